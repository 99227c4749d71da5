/** CSV bodies shared by the rate-card tests. */

/** A Meta-shaped PMP card: title row, blank row, header, `n/a`, currency symbols. */
export const META_CARD_USD = [
  'WhatsApp Business Platform rate card (USD), effective October 1 2026',
  '',
  'Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service',
  'Rest of Africa,USD,$0.0300,$0.0050,$0.0050,n/a,$0.0050',
  'India,USD,0.0118,0.0014,0.0014,0.0304,0.0014',
  '',
].join('\n');

/** A tier table in the operator format. */
export const INDIA_UTILITY_TIERS = [
  'market,currency,category,from,to,rate',
  'India,USD,utility,0,100000,0.0014',
  'India,USD,utility,100001,,0.0012',
].join('\n');

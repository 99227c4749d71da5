/**
 * Request and response types of wabameter's Partner API (`/api/v2`), written by hand to match the
 * server's schemas (src/api/routes/*.ts). Fields the server may add later are not listed; a
 * response object may carry more than its type says.
 */

/** UNIX seconds (UTC), or a Date (sent as its UNIX seconds, rounded down). */
export type DateInput = number | Date;

export type Granularity = 'day' | 'month';

// ---------------------------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------------------------

/** `POST /api/v2/token` (login with username/password, or refresh). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer' | string;
  /** Lifetime of `access_token` in seconds. */
  expires_in: number;
  refresh_token?: string;
  [extra: string]: unknown;
}

export interface ApiKey {
  id: string;
  name: string;
  created_at: string;
  /** When the key was revoked; null while it is active. */
  revoked_at: string | null;
  /** The key's last four characters, so a person can tell keys apart; never the key itself. */
  last4: string | null;
  [extra: string]: unknown;
}

/** The answer to creating a key: the only time the secret is shown. */
export interface CreatedApiKey {
  id: string;
  name: string;
  /** The key itself (`wbm_…`): store it now, the server keeps only its hash. */
  api_key: string;
  created_at: string;
  [extra: string]: unknown;
}

export interface NewApiKey {
  name: string;
}

export interface ApiKeyList {
  count: number;
  /** Active and revoked keys (`revoked_at` tells them apart). */
  api_keys: ApiKey[];
}

// ---------------------------------------------------------------------------------------------
// Clients and channels
// ---------------------------------------------------------------------------------------------

export type PaymentMode = 'direct' | 'partner';

/** Meta's `auth_international_rate_eligibility`. */
export interface AuthInternationalEligibility {
  /** UNIX seconds. */
  start_time: number;
  exception_countries?: { country_code: string; start_time: number }[];
}

export interface Client {
  id: string;
  partner_id: string;
  name: string;
  /** ISO 4217. */
  currency: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  payment_mode: PaymentMode;
  /** IANA time zone. */
  timezone: string;
  created_at: string;
  /** Always `active` today (the meter holds no client life cycle); never null. */
  status: string;
  business_portfolio_id: string | null;
  auth_international_eligibility: Required<AuthInternationalEligibility> | null;
}

export interface NewClient {
  name: string;
  currency: string;
  country: string;
  payment_mode: PaymentMode;
  timezone?: string;
  business_portfolio_id?: string | null;
  auth_international_eligibility?: AuthInternationalEligibility | null;
}

/** At least one field. */
export interface ClientPatch {
  name?: string;
  business_portfolio_id?: string | null;
  auth_international_eligibility?: AuthInternationalEligibility | null;
}

export interface Channel {
  id: string;
  partner_id: string;
  client_id: string;
  phone_number: string;
  phone_number_id: string;
  waba_id: string;
  app_id: string;
  timezone: string;
  created_at: string;
  /** Derived constants today; never null. */
  status: string;
  account_mode: string;
  /** 360dialog's nested shapes, read by existing partner code. */
  setup_info: { phone_number: string; [extra: string]: unknown };
  waba_account: { id: string; fb_account_status: string; [extra: string]: unknown };
  integration: { app_id: string; [extra: string]: unknown };
}

export interface NewChannel {
  phone_number: string;
  phone_number_id: string;
  waba_id: string;
  app_id: string;
  timezone?: string;
}

export interface CreatedChannel extends Channel {
  /** Statuses received before the channel existed, metered now that it does. */
  replayed_statuses: number;
}

/**
 * List parameters. `sort`: a field, `-field` for descending, or several (sent comma-separated).
 * `filters`: an object (sent as a JSON string) or a string passed through as is.
 */
export interface ListQuery {
  limit?: number;
  offset?: number;
  sort?: string | string[];
  filters?: Record<string, unknown> | string;
}

interface ListEnvelope {
  count: number;
  filters: Record<string, unknown>;
  sort: string[];
  limit: number;
  offset: number;
  total: number;
}

export interface ClientList extends ListEnvelope {
  clients: Client[];
}

export interface ChannelList extends ListEnvelope {
  partner_channels: Channel[];
}

// ---------------------------------------------------------------------------------------------
// Usage and balance
// ---------------------------------------------------------------------------------------------

export interface BalanceQuery {
  /** Inclusive; default 0. */
  start_date?: DateInput;
  /** Inclusive; default 4102358400 (2099-12-31). */
  end_date?: DateInput;
  granularity?: Granularity;
  /** Only channels sending through these apps (sent as `app_ids=a,b`). */
  app_ids?: string | string[];
}

type CategoryFields<C extends string> = {
  [K in `${C}_quantity` | `${C}_paid_quantity` | `${C}_price`]: number;
};

/** One day or month bucket of `usage[]` (the seed's fields, then wabameter's additions). */
export type UsageRow = CategoryFields<
  | 'authentication'
  | 'marketing'
  | 'service'
  | 'utility'
  | 'business_initiated'
  | 'user_initiated'
  | 'authentication_international'
  | 'marketing_lite'
  | 'other'
> & {
  /** The bucket's start, `YYYY-MM-DDT00:00:00Z`. */
  period_date: string;
  quantity: number;
  paid_quantity: number;
  free_quantity: number;
  free_tier: number;
  free_entry_point: number;
  total_price: number;
  unpriced_quantity: number;
  messages_sent: number;
  messages_delivered: number;
  unclassified_messages: number;
};

export interface BalanceResponse {
  balance: number | null;
  currency: string;
  last_renewal: { date: string; amount: number } | null;
  bi_price_for_currency_and_client_country: number;
  ui_price_for_currency_and_client_country: number;
  estimated_template_cost: number;
  granularity: Granularity;
  /** Buckets with usage, oldest first. */
  usage: UsageRow[];
  /** Why a list price above is 0 (no card for the country, …). */
  price_notes?: string[];
}

export interface ChargesQuery {
  start_date?: DateInput;
  end_date?: DateInput;
}

export interface Charge {
  period_date: string;
  local_date: string;
  channel_id: string;
  unit: 'message' | 'conversation';
  category: string;
  rule: string;
  market: string | null;
  tier: number;
  quantity: number;
  rate: number | null;
  amount: number;
  source: string | null;
  unpriced_reason: string | null;
}

export interface ChargesResponse {
  currency: string;
  start_date: number;
  end_date: number;
  total_price: number;
  paid_quantity: number;
  unpriced_quantity: number;
  charges: Charge[];
}

export interface TiersQuery {
  /** `YYYY-MM`; all months when absent. */
  month?: string;
}

export interface TierComparison {
  waba_id: string;
  pricing_category: string;
  effective_month: string;
  region: string;
  market: string | null;
  meta_tier: string;
  meta_tier_update_time: number;
  meta_tier_updates: { tier: string; tier_update_time: number }[];
  portfolio_or_waba_id: string;
  computed_tier: string | null;
  computed_count: number | null;
  difference: string;
}

export interface TiersResponse {
  client_id: string;
  business_portfolio_id: string | null;
  month: string | null;
  count: number;
  tiers: TierComparison[];
}

/** Buckets of `…/info/usage` (Meta's `DAILY`/`MONTHLY` spellings are accepted by the server too). */
export type UsageGranularity = 'half_hour' | 'day' | 'month';

/** `…/channels/{channel_id}/info/usage`: per-message analytics in Meta's `pricing_analytics` shape. */
export interface UsageQuery {
  start_date?: DateInput;
  end_date?: DateInput;
  /** Default `day`. */
  granularity?: UsageGranularity;
  /** ISO 3166-1 alpha-2 codes (sent comma-separated); all countries when absent. */
  country_codes?: string | string[];
}

export interface PricingDataPoint {
  /** Bucket start, UNIX seconds (UTC). */
  start: number;
  /** Bucket end (exclusive): the next bucket's start. */
  end: number;
  /** Delivered messages. */
  volume: number;
  /** In the client's currency (0 for free messages). */
  cost: number;
  /** Recipient's ISO alpha-2 country; absent when unknown. */
  country?: string;
  /** `MARKETING`, `UTILITY`, `AUTHENTICATION`, `SERVICE`, … as Meta spells them. */
  pricing_category: string;
  /** `REGULAR`, `FREE_CUSTOMER_SERVICE`, `FREE_ENTRY_POINT`, … */
  pricing_type: string;
  /** `LOWER:UPPER` of a charged message; absent on free messages. */
  tier?: string;
  /** The channel's phone number, digits only. */
  phone_number: string;
  /** Charged messages no rate card covers (not in `cost`); absent when 0. */
  unpriced_volume?: number;
}

export interface UsageResponse {
  pricing_analytics: { data: { data_points: PricingDataPoint[] }[] };
  /** The channel's WABA id. */
  id: string;
  currency: string;
  granularity: UsageGranularity;
}

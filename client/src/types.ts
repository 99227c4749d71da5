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

/** `POST …/channels/{channel_id}/api_keys`: the body is optional (`name` is returned and listed). */
export interface NewChannelApiKey {
  /** 1–100 characters. */
  name?: string;
}

/**
 * A new channel API key: it reads only this channel's usage (`GET …/clients/{c}/channels/{ch}`
 * and its `/info/balance`, `/info/usage`, `/info/charges`). The only time the secret is shown.
 */
export interface CreatedChannelApiKey {
  /** Key id (ends in `CK`), for revoking it. */
  id: string;
  /** The service's base URL as the request reached it (protocol and host): where the key is used. */
  address: string;
  /** The key itself (`wbc_…`): store it now, the server keeps only its hash. */
  api_key: string;
  /** The channel's app id. */
  app_id: string;
  channel_id: string;
  client_id: string;
  /** The name sent on creation; null when none was. */
  name: string | null;
  created_at: string;
}

/** A channel API key as listed: never its secret. */
export interface ChannelApiKey {
  id: string;
  address: string;
  app_id: string;
  channel_id: string;
  client_id: string;
  name: string | null;
  created_at: string;
  /** When the key was revoked; null while it works. */
  revoked_at: string | null;
  /** The key's last four characters. */
  last4: string;
}

export interface ChannelApiKeyList {
  /** Keys listed, revoked ones included. */
  count: number;
  /** Oldest first. */
  api_keys: ChannelApiKey[];
}

/** The answer to revoking channel keys: how many this request revoked (0 for a key revoked before). */
export interface RevokedChannelApiKeys {
  revoked: number;
}

// ---------------------------------------------------------------------------------------------
// The partner's own record
// ---------------------------------------------------------------------------------------------

/** `GET /api/v2/partners/{partner_id}`. */
export interface Partner {
  /** Partner id (ends in `PA`). */
  id: string;
  name: string;
  /** The same as `name` (360dialog's word for the display name). */
  brand_name: string;
  created_at: string;
  /** `created_at` until the record is first changed. */
  modified_at: string;
  /** Where the partner receives notifications (the default destination of alerts); null = none. */
  webhook_url: string | null;
  partner_redirect_url: string | null;
  logo_url: string | null;
}

/**
 * `PATCH /api/v2/partners/{partner_id}`: at least one field. `null` (or leaving a field out)
 * keeps it unchanged; `""` clears a URL. URLs are absolute http(s) URLs (≤ 2048 characters).
 */
export interface PartnerPatch {
  /** 1–200 characters; cannot be cleared. */
  name?: string | null;
  webhook_url?: string | null;
  partner_redirect_url?: string | null;
  logo_url?: string | null;
}

/** `GET /api/v2/partners/{partner_id}/webhook_url`. */
export interface WebhookUrl {
  webhook_url: string | null;
}

// ---------------------------------------------------------------------------------------------
// Clients and channels
// ---------------------------------------------------------------------------------------------

export type PaymentMode = 'direct' | 'partner';

/** Keys of a client's `contact_info` (360dialog's contact fields). */
export type ContactInfoField =
  | 'email' | 'full_name' | 'name' | 'phone' | 'webpage_url' | 'language' | 'country' | 'street_name' | 'city' | 'zip_code';

/** Contact fields the partner sent about its client; `{}` when none. */
export type ContactInfo = { [K in ContactInfoField]?: string };

/** `contact_info` in a create or update: in an update merged key by key; a key sent as null or "" is removed. */
export type ContactInfoPatch = { [K in ContactInfoField]?: string | null };

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
  /** `created_at` until the client is first changed. */
  modified_at: string;
  /** As set by the partner. */
  organisation: string | null;
  /** `{}` when none. */
  contact_info: ContactInfo;
  /** The partner's own reference for this client, as set by it. */
  partner_payload: string | null;
  /** Channels the client may register (1000 unless set). */
  max_channels: number;
  business_portfolio_id: string | null;
  auth_international_eligibility: Required<AuthInternationalEligibility> | null;
}

export interface NewClient {
  /** 1–200 characters. */
  name: string;
  currency: string;
  country: string;
  payment_mode: PaymentMode;
  timezone?: string;
  business_portfolio_id?: string | null;
  auth_international_eligibility?: AuthInternationalEligibility | null;
  /** ≤ 200 characters; null or "" = none. */
  organisation?: string | null;
  /** Keys sent as null or "" are not stored. */
  contact_info?: ContactInfoPatch | null;
  /** ≤ 4096 characters; null or "" = none. */
  partner_payload?: string | null;
  /** 1–100000; null = the default (1000). */
  max_channels?: number | null;
}

/**
 * At least one field; only the fields present change. For `name`, `organisation`,
 * `contact_info`, `partner_payload` and `max_channels`, `null` leaves the field unchanged and `""`
 * clears a text field (`contact_info` merges key by key; a key sent as null or "" is removed).
 * For `business_portfolio_id` and `auth_international_eligibility`, `null` clears.
 */
export interface ClientPatch {
  name?: string | null;
  business_portfolio_id?: string | null;
  auth_international_eligibility?: AuthInternationalEligibility | null;
  organisation?: string | null;
  contact_info?: ContactInfoPatch | null;
  partner_payload?: string | null;
  max_channels?: number | null;
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
  /** Derived constant, never null: always `ready` today (360dialog's value for a channel that can send). */
  status: string;
  /** Derived constant: always `live` today. */
  account_mode: string;
  /** 360dialog's nested shapes, read by existing partner code. */
  setup_info: { phone_number: string; [extra: string]: unknown };
  /** `fb_account_status` is a derived constant: always `verified` today. */
  waba_account: { id: string; fb_account_status: string; [extra: string]: unknown };
  integration: { app_id: string; [extra: string]: unknown };
  /** The channel's client, as 360dialog's channel objects carry it. */
  client: ChannelClient;
}

export interface ChannelClient {
  id: string;
  name: string;
  partner_payload: string | null;
  /** `{}` when none. */
  contact_info: ContactInfo;
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
  /** Prepaid funds: the sum of the booked entries; 0 while nothing is booked (never null). */
  balance: number;
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

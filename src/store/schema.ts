/**
 * The store's tables as Kysely types (their DDL is in migrations.ts).
 *
 * - Tenants: partners, their API keys (hashes only), clients and channels.
 * - `status_events` is the event log and the source of truth: every accepted status, deduplicated,
 *   with no phone number and no raw message id (only hashes and the recipient's country).
 * - `messages`, `conversations` and `usage_daily` are projections the meter rebuilds from the log.
 *   Each projection row remembers the unit it last added to `usage_daily` (`unit_*`), so a change
 *   is applied as "take the old unit out, put the new one in".
 */
import type { ColumnType, Generated } from 'kysely';
import type { UsageCounter } from '../billing/usage.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface PartnersTable {
  id: string;
  name: string;
  created_at: string;
  /** Where the partner wants notifications (360dialog's partner webhook URL); the default destination of alerts. */
  webhook_url: ColumnType<string | null, string | null | undefined, string | null>;
  partner_redirect_url: ColumnType<string | null, string | null | undefined, string | null>;
  logo_url: ColumnType<string | null, string | null | undefined, string | null>;
  modified_at: ColumnType<string | null, string | null | undefined, string | null>;
}
export interface ApiKeysTable {
  id: string;
  partner_id: string;
  name: string;
  key_hash: string;
  created_at: string;
  revoked_at: string | null;
  /** The key's last four characters, shown in lists to tell keys apart (null for keys made before migration 5). */
  last4: ColumnType<string | null, string | null | undefined, string | null>;
}
/** A partner's login for the legacy token flow (`POST /api/v2/token`); only a scrypt hash of the password. */
export interface PartnerUsersTable {
  id: string;
  partner_id: string;
  /** Unique across partners: the token endpoint names no partner. */
  username: string;
  /** `scrypt$N$r$p$<salt>$<hash>` (src/auth/passwords.ts). */
  password_hash: string;
  created_at: string;
  revoked_at: string | null;
}
/**
 * One issued token pair: SHA-256 hashes of the access and refresh tokens (never the tokens),
 * their expiries in Unix seconds, and when the refresh token was spent (refresh tokens are
 * single-use) or the pair revoked.
 */
export interface PartnerTokensTable {
  id: string;
  user_id: string;
  partner_id: string;
  access_hash: string;
  refresh_hash: string;
  access_expires_at: number;
  refresh_expires_at: number;
  created_at: string;
  refresh_used_at: string | null;
  revoked_at: string | null;
}
export interface ClientsTable {
  id: string;
  partner_id: string;
  name: string;
  currency: string;
  country: string;
  payment_mode: string;
  timezone: string;
  created_at: string;
  /** Meta business portfolio the client's WABAs belong to: they share volume tiers. Null = each WABA alone. */
  business_portfolio_id: ColumnType<string | null, string | null | undefined, string | null>;
  /**
   * Meta's `auth_international_rate_eligibility` ({start_time, exception_countries}) as JSON text
   * (see billing/auth-international.ts); null = not eligible. Set through the API or by an
   * AUTH_INTL_PRICE_ELIGIBILITY_UPDATE webhook for one of the client's WABAs (latest wins).
   */
  auth_international_eligibility: ColumnType<string | null, string | null | undefined, string | null>;
  /** Attributes the partner sets about its own client (360dialog's), returned and filterable. */
  organisation: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON text of the contact fields the partner sent (email, full_name, phone, …); null = none. */
  contact_info: ColumnType<string | null, string | null | undefined, string | null>;
  partner_payload: ColumnType<string | null, string | null | undefined, string | null>;
  /** Channels the client may register; null = the default limit. */
  max_channels: ColumnType<number | null, number | null | undefined, number | null>;
  /** Last change through the API; null = never changed since created_at. */
  modified_at: ColumnType<string | null, string | null | undefined, string | null>;
}
export interface ChannelsTable {
  id: string;
  partner_id: string;
  client_id: string;
  phone_number: string;
  phone_number_id: string;
  waba_id: string;
  app_id: string;
  timezone: string;
  created_at: string;
}
export interface StatusEventsTable {
  seq: Generated<number>;
  dedup_key: string;
  received_at: number;
  phone_number_id: string;
  waba_id: string | null;
  message_key: string;
  status: string;
  ts: number;
  country: string | null;
  conv_id: string | null;
  conv_expiration: number | null;
  conv_origin: string | null;
  pricing_model: string | null;
  pricing_billable: number | null;
  pricing_type: string | null;
  pricing_category: string | null;
  error_codes: string | null;
}

/** The unit a projection row last added to usage_daily (all null: it added none). */
export interface AppliedUnitColumns {
  unit_day: number | null;
  unit_category: string | null;
  unit_free: string | null;
  /** Charge key of a paid unit (see ChargeKey); null for a free one. */
  unit_local_day: string | null;
  unit_market: string | null;
  unit_tier: number | null;
  /** Ranking group (CBP free tier, PMP volume tier) and the row's place and slot in it. */
  rank_group: string | null;
  rank_time: number | null;
  rank_key: string | null;
  rank_slot: number;
}

export interface MessagesTable extends AppliedUnitColumns {
  message_key: string;
  phone_number_id: string;
  waba_id: string | null;
  first_ts: number;
  sent_ts: number | null;
  delivered_ts: number | null;
  read_ts: number | null;
  failed_ts: number | null;
  country: string | null;
  conv_id: string | null;
  conv_expiration: number | null;
  conv_origin: string | null;
  conv_pick: string | null;
  pricing_model: string | null;
  pricing_billable: number | null;
  pricing_type: string | null;
  pricing_category: string | null;
  pricing_pick: string | null;
  /** Day buckets the message's own counters were added to. */
  sent_day: number | null;
  delivered_day: number | null;
  unclassified_day: number | null;
}

export interface ConversationsTable extends AppliedUnitColumns {
  phone_number_id: string;
  conv_id: string;
  waba_id: string | null;
  first_ts: number;
  expiration: number | null;
  origin: string | null;
  category: string | null;
  billable: number | null;
  pick: string | null;
  delivered_ts: number | null;
  country: string | null;
}

export interface ChargesTable {
  phone_number_id: string;
  day: number;
  local_day: string;
  unit: string;
  category: string;
  /** '' when the recipient's country is unknown. */
  market: string;
  tier: number;
  quantity: number;
  amount: number;
  unpriced: number;
  rate: number | null;
  source: string | null;
  reason: string | null;
}

export interface RankGroupsTable {
  rank_group: string;
  members: number;
  /** JSON of `StoredBoundaries` (meter-store.ts): the rows at the group's tier boundaries; null = not known. */
  boundaries: ColumnType<string | null, string | null | undefined, string | null>;
}

export type UsageDailyTable = { phone_number_id: string; day: number } & Record<UsageCounter, number>;
export type ClientUsageDailyTable = { client_id: string; day: number } & Record<UsageCounter, number>;

/** `account_update` VOLUME_BASED_PRICING_TIER_UPDATE webhooks, as received (exact duplicates dropped). */
export interface VolumeTierUpdatesTable {
  id: Generated<number>;
  waba_id: string;
  /** As Meta spells it, e.g. "UTILITY". */
  pricing_category: string;
  /** "LOWER:UPPER". */
  tier: string;
  /** "YYYY-MM". */
  effective_month: string;
  /** Meta's market name, e.g. "INDIA". */
  region: string;
  tier_update_time: number;
  received_at: number;
}

/** `account_update` AUTH_INTL_PRICE_ELIGIBILITY_UPDATE webhooks, as received (retries dropped). */
export interface AuthIntlEligibilityUpdatesTable {
  id: Generated<number>;
  /** Hash of waba_id, start_time, exception_countries and event_time. */
  dedup_key: string;
  waba_id: string;
  start_time: number;
  /** JSON array of {country_code, start_time}. */
  exception_countries: string;
  /** The entry's `time`, when Meta sent one. */
  event_time: number | null;
  received_at: number;
}

/** Long metering work done in slices (src/meter/jobs.ts); one row per kind and phone number. */
export interface MeterJobsTable {
  id: Generated<number>;
  kind: 'replay' | 'remeter' | 'reprice';
  phone_number_id: string;
  client_id: string | null;
  position: string;
  upto_seq: number | null;
  created_at: number;
}

/**
 * What `…/info/usage` reads (migration `usageReadPaths`): the delivered PMP messages of `messages`
 * (those with a unit: `unit_day` set) counted per phone number, UTC day and everything that tells
 * their data points and charge groups apart (`message_usage_days`), and per half hour of delivery
 * within such a day group (`message_usage_half_hours`, which names its day group by `key_id`, so a
 * month of half hours is read as integers). A column a message has no value for is '' (tier 0), so
 * the key can be a unique key on both engines. The meter keeps both equal to that count over
 * `messages` (src/store/usage-queries.ts: messageUsageKey, MessageUsageDeltas).
 */
export interface MessageUsageDaysTable {
  id: Generated<number>;
  phone_number_id: string;
  /** unit_day. */
  day: number;
  /** ISO alpha-2; '' when unknown. */
  country: string;
  /** unit_category. */
  category: string;
  /** For category 'other': coalesce(pricing_category, conv_origin, ''); else ''. */
  raw_category: string;
  /** unit_free; '' for a charged message. */
  free: string;
  /** For unit_free 'free_tier': coalesce(pricing_type, ''); else ''. */
  free_type: string;
  /** The charge key of a charged message (unit_local_day, coalesce(unit_market, ''), unit_tier); '', '', 0 for a free one. */
  local_day: string;
  market: string;
  tier: number;
  volume: number;
}
export interface MessageUsageHalfHoursTable {
  phone_number_id: string;
  /** Start of the UTC half hour of coalesce(delivered_ts, read_ts). */
  bucket: number;
  /** The message_usage_days row of the same messages' day and key. */
  key_id: number;
  volume: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface Database {
  partners: PartnersTable;
  api_keys: ApiKeysTable;
  partner_users: PartnerUsersTable;
  partner_tokens: PartnerTokensTable;
  clients: ClientsTable;
  channels: ChannelsTable;
  status_events: StatusEventsTable;
  messages: MessagesTable;
  conversations: ConversationsTable;
  usage_daily: UsageDailyTable;
  client_usage_daily: ClientUsageDailyTable;
  rate_card_rows: RateCardRowsTable;
  volume_tier_rows: VolumeTierRowsTable;
  charges: ChargesTable;
  rank_groups: RankGroupsTable;
  volume_tier_updates: VolumeTierUpdatesTable;
  auth_intl_eligibility_updates: AuthIntlEligibilityUpdatesTable;
  channel_api_keys: ChannelApiKeysTable;
  registration_conflicts: RegistrationConflictsTable;
  meta: MetaTable;
  meter_jobs: MeterJobsTable;
  message_usage_half_hours: MessageUsageHalfHoursTable;
  message_usage_days: MessageUsageDaysTable;
}

/** A key scoped to one channel: it reads that channel's usage through the Partner API and nothing else (hash only). */
export interface ChannelApiKeysTable {
  id: string;
  partner_id: string;
  client_id: string;
  channel_id: string;
  /** What the key is for, as the partner named it; null = unnamed. */
  name: string | null;
  key_hash: string;
  last4: string;
  created_at: string;
  revoked_at: string | null;
}

/** A refused registration of a phone number id that another partner's channel holds, kept for the operator. */
export interface RegistrationConflictsTable {
  id: Generated<number>;
  phone_number_id: string;
  /** The partner that was refused, and the client it tried to register the number for. */
  partner_id: string;
  client_id: string;
  /** The channel that holds the number. */
  holder_channel_id: string;
  attempts: number;
  first_at: string;
  last_at: string;
}

/** Operator-loaded rate-card cells (one per card row and category); rate in micros, null = `n/a`. */
export interface RateCardRowsTable {
  effective_from: string;
  unit: string;
  market: string;
  currency: string;
  category: string;
  rate: number | null;
  source: string;
  loaded_at: string;
}

/** Operator-loaded volume tiers (one per tier); `tier_to` null for the open-ended last tier. */
export interface VolumeTierRowsTable {
  effective_from: string;
  market: string;
  currency: string;
  category: string;
  tier_from: number;
  tier_to: number | null;
  rate: number;
  source: string;
  loaded_at: string;
}

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
import type { Generated } from 'kysely';
import type { UsageCounter } from '../billing/usage.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface PartnersTable {
  id: string;
  name: string;
  created_at: string;
}
export interface ApiKeysTable {
  id: string;
  partner_id: string;
  name: string;
  key_hash: string;
  created_at: string;
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
  unit_price: number | null;
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
  /** Free-tier ranking inputs (only delivered, eligible conversations compete). */
  tier_group: string | null;
  open_time: number;
  in_free_tier: number;
}

export type UsageDailyTable = { phone_number_id: string; day: number } & Record<UsageCounter, number>;

export interface MetaTable {
  key: string;
  value: string;
}

export interface Database {
  partners: PartnersTable;
  api_keys: ApiKeysTable;
  clients: ClientsTable;
  channels: ChannelsTable;
  status_events: StatusEventsTable;
  messages: MessagesTable;
  conversations: ConversationsTable;
  usage_daily: UsageDailyTable;
  meta: MetaTable;
}


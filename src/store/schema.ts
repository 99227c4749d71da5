/**
 * The store's tables, as Kysely types and as one migration that runs on SQLite and PostgreSQL.
 *
 * - Tenants: partners, their API keys (hashes only), clients and channels.
 * - `status_events` is the event log and the source of truth: every accepted status, deduplicated,
 *   with no phone number and no raw message id (only hashes and the recipient's country).
 * - `messages`, `conversations` and `usage_daily` are projections the meter rebuilds from the log.
 *   Each projection row remembers the unit it last added to `usage_daily` (`unit_*`), so a change
 *   is applied as "take the old unit out, put the new one in".
 */
import type { Generated, Kysely } from 'kysely';
import { USAGE_COUNTERS, type UsageCounter } from '../billing/usage.ts';

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

const SCHEMA_VERSION = '1';

export async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema.createTable('meta').ifNotExists()
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
  const version = await db.selectFrom('meta').select('value').where('key', '=', 'schema_version').executeTakeFirst();
  if (version?.value === SCHEMA_VERSION) return;
  if (version) throw new Error(`store schema version ${version.value} is newer than this build understands (${SCHEMA_VERSION})`);

  await db.schema.createTable('partners').ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createTable('api_keys').ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createTable('clients').ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('country', 'text', (c) => c.notNull())
    .addColumn('payment_mode', 'text', (c) => c.notNull())
    .addColumn('timezone', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('clients_partner').ifNotExists().on('clients').columns(['partner_id']).execute();
  await db.schema.createTable('channels').ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('client_id', 'text', (c) => c.notNull().references('clients.id'))
    .addColumn('phone_number', 'text', (c) => c.notNull())
    .addColumn('phone_number_id', 'text', (c) => c.notNull().unique())
    .addColumn('waba_id', 'text', (c) => c.notNull())
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('timezone', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('channels_client').ifNotExists().on('channels').columns(['client_id']).execute();

  await db.schema.createTable('status_events').ifNotExists()
    .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement())
    .addColumn('dedup_key', 'text', (c) => c.notNull().unique())
    .addColumn('received_at', bigint, (c) => c.notNull())
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('waba_id', 'text')
    .addColumn('message_key', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('ts', bigint, (c) => c.notNull())
    .addColumn('country', 'text')
    .addColumn('conv_id', 'text')
    .addColumn('conv_expiration', bigint)
    .addColumn('conv_origin', 'text')
    .addColumn('pricing_model', 'text')
    .addColumn('pricing_billable', 'integer')
    .addColumn('pricing_type', 'text')
    .addColumn('pricing_category', 'text')
    .addColumn('error_codes', 'text')
    .execute();
  await db.schema.createIndex('status_events_phone').ifNotExists().on('status_events').columns(['phone_number_id', 'seq']).execute();

  const unitColumns = <T extends { addColumn: (...a: any[]) => T }>(t: T): T =>
    t.addColumn('unit_day', bigint)
      .addColumn('unit_category', 'text')
      .addColumn('unit_free', 'text')
      .addColumn('unit_price', bigint);

  await unitColumns(
    db.schema.createTable('messages').ifNotExists()
      .addColumn('message_key', 'text', (c) => c.primaryKey())
      .addColumn('phone_number_id', 'text', (c) => c.notNull())
      .addColumn('waba_id', 'text')
      .addColumn('first_ts', bigint, (c) => c.notNull())
      .addColumn('sent_ts', bigint)
      .addColumn('delivered_ts', bigint)
      .addColumn('read_ts', bigint)
      .addColumn('failed_ts', bigint)
      .addColumn('country', 'text')
      .addColumn('conv_id', 'text')
      .addColumn('conv_expiration', bigint)
      .addColumn('conv_origin', 'text')
      .addColumn('conv_pick', 'text')
      .addColumn('pricing_model', 'text')
      .addColumn('pricing_billable', 'integer')
      .addColumn('pricing_type', 'text')
      .addColumn('pricing_category', 'text')
      .addColumn('pricing_pick', 'text')
      .addColumn('sent_day', bigint)
      .addColumn('delivered_day', bigint)
      .addColumn('unclassified_day', bigint),
  ).execute();
  await db.schema.createIndex('messages_phone').ifNotExists().on('messages').columns(['phone_number_id']).execute();

  await unitColumns(
    db.schema.createTable('conversations').ifNotExists()
      .addColumn('phone_number_id', 'text', (c) => c.notNull())
      .addColumn('conv_id', 'text', (c) => c.notNull())
      .addColumn('waba_id', 'text')
      .addColumn('first_ts', bigint, (c) => c.notNull())
      .addColumn('expiration', bigint)
      .addColumn('origin', 'text')
      .addColumn('category', 'text')
      .addColumn('billable', 'integer')
      .addColumn('pick', 'text')
      .addColumn('delivered_ts', bigint)
      .addColumn('country', 'text')
      .addColumn('tier_group', 'text')
      .addColumn('open_time', bigint, (c) => c.notNull())
      .addColumn('in_free_tier', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('conversations_pk', ['phone_number_id', 'conv_id']),
  ).execute();
  await db.schema.createIndex('conversations_tier').ifNotExists().on('conversations')
    .columns(['tier_group', 'open_time', 'phone_number_id', 'conv_id']).execute();

  let usage = db.schema.createTable('usage_daily').ifNotExists()
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('day', bigint, (c) => c.notNull());
  for (const counter of USAGE_COUNTERS) usage = usage.addColumn(counter, bigint, (c) => c.notNull().defaultTo(0));
  await usage.addPrimaryKeyConstraint('usage_daily_pk', ['phone_number_id', 'day']).execute();

  await db.insertInto('meta').values({ key: 'schema_version', value: SCHEMA_VERSION })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: SCHEMA_VERSION })).execute();
}

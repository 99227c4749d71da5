/**
 * Schema migrations, in order; each runs once, in its own transaction, on SQLite and PostgreSQL
 * alike. The number of migrations applied is `meta.schema_version`. Add new ones at the end.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';
import { USAGE_COUNTERS } from '../billing/usage.ts';
import { takeLock } from './locks.ts';
import type { Database, Dialect } from './schema.ts';

export type Migration = (db: Kysely<Database>, dialect: Dialect) => Promise<void>;

/**
 * The event log's table: as migration 1 made it, in the store's schema; or on SQLite as migration
 * 12 makes it in the log's own file (attached as `log`: `inLogFile`), deduplicated by
 * DEDUP_INDEX instead of a unique key of its own.
 */
async function createEventLog(db: Kysely<Database>, dialect: Dialect, inLogFile = false): Promise<void> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  await (inLogFile ? db.schema.withSchema('log') : db.schema).createTable('status_events').ifNotExists()
    .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement())
    .addColumn('dedup_key', 'text', (c) => (inLogFile ? c.notNull() : c.notNull().unique()))
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
  // SQLite names an index's schema before its name, and its table without one.
  if (inLogFile) {
    await sql`create index if not exists log.status_events_phone on status_events (phone_number_id, seq)`.execute(db);
    await sql`create unique index if not exists log.${sql.raw(DEDUP_INDEX)} on status_events (ts, dedup_key)`.execute(db);
  } else await db.schema.createIndex('status_events_phone').ifNotExists().on('status_events').columns(['phone_number_id', 'seq']).execute();
}

/**
 * The log's deduplication (migration 12): the digest of a status's content is random, so a unique
 * index on it alone puts every append on a random page of the index (a page written to disk per
 * status in each group commit). The status's own time leads instead, and statuses arrive roughly
 * in time order, so appends touch the index's last pages. The digest covers the time, so
 * "same (ts, digest)" is "same digest".
 */
const DEDUP_INDEX = 'status_events_dedup';

/** The event log's columns, in migration 1's order. */
const EVENT_COLUMNS = ['seq', 'dedup_key', 'received_at', 'phone_number_id', 'waba_id', 'message_key', 'status', 'ts', 'country', 'conv_id',
  'conv_expiration', 'conv_origin', 'pricing_model', 'pricing_billable', 'pricing_type', 'pricing_category', 'error_codes'] as const;

/** 1: tenants, the event log, message and conversation projections, the daily rollup. */
const initial: Migration = async (db, dialect) => {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
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

  await createEventLog(db, dialect);

  // The unit a row last added to the rollup, and its place in a ranking (free tier, volume tier).
  const unitColumns = <T extends { addColumn: (...a: any[]) => T }>(t: T): T =>
    t.addColumn('unit_day', bigint)
      .addColumn('unit_category', 'text')
      .addColumn('unit_free', 'text')
      .addColumn('unit_local_day', 'text')
      .addColumn('unit_market', 'text')
      .addColumn('unit_tier', 'integer')
      .addColumn('rank_group', 'text')
      .addColumn('rank_time', bigint)
      .addColumn('rank_key', 'text')
      .addColumn('rank_slot', 'integer', (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(0));

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
      .addPrimaryKeyConstraint('conversations_pk', ['phone_number_id', 'conv_id']),
  ).execute();
  for (const table of ['messages', 'conversations'] as const) {
    await db.schema.createIndex(`${table}_rank`).ifNotExists().on(table).columns(['rank_group', 'rank_time', 'rank_key']).execute();
  }

  let usage = db.schema.createTable('usage_daily').ifNotExists()
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('day', bigint, (c) => c.notNull());
  for (const counter of USAGE_COUNTERS) usage = usage.addColumn(counter, bigint, (c) => c.notNull().defaultTo(0));
  await usage.addPrimaryKeyConstraint('usage_daily_pk', ['phone_number_id', 'day']).execute();

};

/** 2: priced groups of units (pricing engine). */
const charges: Migration = async (db, dialect) => {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  // One row per phone number, UTC day and everything that decides a paid unit's rate; the rollup's
  // prices are the sum of these amounts, so a rate change re-prices groups, never units.
  await db.schema.createTable('charges')
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('day', bigint, (c) => c.notNull())
    .addColumn('local_day', 'text', (c) => c.notNull())
    .addColumn('unit', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('market', 'text', (c) => c.notNull())
    .addColumn('tier', 'integer', (c) => c.notNull())
    .addColumn('quantity', bigint, (c) => c.notNull())
    .addColumn('amount', bigint, (c) => c.notNull())
    .addColumn('unpriced', bigint, (c) => c.notNull())
    .addColumn('rate', bigint)
    .addColumn('source', 'text')
    .addColumn('reason', 'text')
    .addPrimaryKeyConstraint('charges_pk', ['phone_number_id', 'day', 'local_day', 'unit', 'category', 'market', 'tier'])
    .execute();
  // The daily rollup again per client, so a client's year is 365 rows whatever its channel count.
  let clientUsage = db.schema.createTable('client_usage_daily')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('day', bigint, (c) => c.notNull());
  for (const counter of USAGE_COUNTERS) clientUsage = clientUsage.addColumn(counter, bigint, (c) => c.notNull().defaultTo(0));
  await clientUsage.addPrimaryKeyConstraint('client_usage_daily_pk', ['client_id', 'day']).execute();
  // How many units each ranking group holds (free-tier and volume-tier groups).
  await db.schema.createTable('rank_groups')
    .addColumn('rank_group', 'text', (c) => c.primaryKey())
    .addColumn('members', bigint, (c) => c.notNull())
    .execute();
};

/** 3: operator rate cards and volume-tier tables. */
const rateCards: Migration = async (db, dialect) => {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  // One row per card row and category (Meta's CSV cell); rate null = the card says n/a. The shipped
  // defaults are not stored: they come with the build, operator rows are added on top at start.
  await db.schema.createTable('rate_card_rows').ifNotExists()
    .addColumn('effective_from', 'text', (c) => c.notNull())
    .addColumn('unit', 'text', (c) => c.notNull())
    .addColumn('market', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('rate', bigint)
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('loaded_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_card_rows_pk', ['effective_from', 'unit', 'market', 'currency', 'category'])
    .execute();
  // One row per tier; `tier_from`/`tier_to` because FROM and TO are SQL keywords.
  await db.schema.createTable('volume_tier_rows').ifNotExists()
    .addColumn('effective_from', 'text', (c) => c.notNull())
    .addColumn('market', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('tier_from', bigint, (c) => c.notNull())
    .addColumn('tier_to', bigint)
    .addColumn('rate', bigint, (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('loaded_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('volume_tier_rows_pk', ['effective_from', 'market', 'currency', 'category', 'tier_from'])
    .execute();
};

/** 4: account_update webhooks (tier updates, auth-international eligibility) and client pricing fields. */
const accountUpdates: Migration = async (db, dialect) => {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  // SQLite adds one column per ALTER TABLE; both engines accept nullable columns without defaults.
  await db.schema.alterTable('clients').addColumn('business_portfolio_id', 'text').execute();
  await db.schema.alterTable('clients').addColumn('auth_international_eligibility', 'text').execute();

  await db.schema.createTable('volume_tier_updates')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('waba_id', 'text', (c) => c.notNull())
    .addColumn('pricing_category', 'text', (c) => c.notNull())
    .addColumn('tier', 'text', (c) => c.notNull())
    .addColumn('effective_month', 'text', (c) => c.notNull())
    .addColumn('region', 'text', (c) => c.notNull())
    .addColumn('tier_update_time', bigint, (c) => c.notNull())
    .addColumn('received_at', bigint, (c) => c.notNull())
    // Meta's retries of one notification are dropped; announcements that differ in anything are kept.
    .addUniqueConstraint('volume_tier_updates_dedup', ['waba_id', 'pricing_category', 'effective_month', 'region', 'tier', 'tier_update_time'])
    .execute();

  await db.schema.createTable('auth_intl_eligibility_updates')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('dedup_key', 'text', (c) => c.notNull().unique())
    .addColumn('waba_id', 'text', (c) => c.notNull())
    .addColumn('start_time', bigint, (c) => c.notNull())
    .addColumn('exception_countries', 'text', (c) => c.notNull())
    .addColumn('event_time', bigint)
    .addColumn('received_at', bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('auth_intl_eligibility_updates_waba').on('auth_intl_eligibility_updates').columns(['waba_id', 'received_at', 'id']).execute();
  await db.schema.createIndex('channels_waba').ifNotExists().on('channels').columns(['waba_id']).execute();
};

/** 5: Partner API auth: named keys (table from 1, plus `last4`), partner users and their token pairs. */
const partnerAuth: Migration = async (db, dialect) => {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema.alterTable('api_keys').addColumn('last4', 'text').execute();
  await db.schema.createIndex('api_keys_partner').ifNotExists().on('api_keys').columns(['partner_id', 'created_at']).execute();

  await db.schema.createTable('partner_users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('partner_users_partner').on('partner_users').columns(['partner_id', 'created_at']).execute();

  await db.schema.createTable('partner_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('partner_users.id'))
    .addColumn('partner_id', 'text', (c) => c.notNull())
    .addColumn('access_hash', 'text', (c) => c.notNull().unique())
    .addColumn('refresh_hash', 'text', (c) => c.notNull().unique())
    .addColumn('access_expires_at', bigint, (c) => c.notNull())
    .addColumn('refresh_expires_at', bigint, (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('refresh_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('partner_tokens_user').on('partner_tokens').columns(['user_id']).execute();
  // Expired pairs are purged by refresh expiry.
  await db.schema.createIndex('partner_tokens_expiry').on('partner_tokens').columns(['refresh_expires_at']).execute();
};

/** 6: list endpoints and per-message analytics: a partner's channels; a phone number's PMP units by day. */
const listAndUsageIndexes: Migration = async (db) => {
  await db.schema.createIndex('channels_partner').ifNotExists().on('channels').columns(['partner_id', 'created_at']).execute();
  await db.schema.createIndex('clients_partner_created').ifNotExists().on('clients').columns(['partner_id', 'created_at']).execute();
  await db.schema.createIndex('messages_phone_unit_day').ifNotExists().on('messages').columns(['phone_number_id', 'unit_day']).execute();
};

/**
 * 7: what 360dialog's client libraries read and write: client attributes the partner sets, the
 * partner's own record (webhook URL), keys scoped to one channel, and refused registrations of a
 * phone number another partner holds (for the operator).
 */
const partnerCompatibility: Migration = async (db, dialect) => {
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  for (const column of ['organisation', 'contact_info', 'partner_payload', 'modified_at'] as const) {
    await db.schema.alterTable('clients').addColumn(column, 'text').execute();
  }
  await db.schema.alterTable('clients').addColumn('max_channels', 'integer').execute();
  for (const column of ['webhook_url', 'partner_redirect_url', 'logo_url', 'modified_at'] as const) {
    await db.schema.alterTable('partners').addColumn(column, 'text').execute();
  }

  await db.schema.createTable('channel_api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('client_id', 'text', (c) => c.notNull().references('clients.id'))
    .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id'))
    .addColumn('name', 'text')
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('last4', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('channel_api_keys_channel').on('channel_api_keys').columns(['channel_id', 'created_at']).execute();

  await db.schema.createTable('registration_conflicts')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('partner_id', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('holder_channel_id', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('first_at', 'text', (c) => c.notNull())
    .addColumn('last_at', 'text', (c) => c.notNull())
    // One row per number and refused partner; repeated attempts count up.
    .addUniqueConstraint('registration_conflicts_once', ['phone_number_id', 'partner_id'])
    .execute();
};

/**
 * 8: long metering work kept as jobs and done in bounded slices beside ingestion (a late channel's
 * replay, re-metering after a pricing-profile change, re-pricing after a rate change): each slice
 * is one short transaction that advances `position`, so a job survives a crash and never holds the
 * meter for long.
 */
const meterJobs: Migration = async (db, dialect) => {
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema.createTable('meter_jobs')
    .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('kind', 'text', (c) => c.notNull())
    // '' for the one job that covers every phone number (re-pricing).
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text')
    .addColumn('position', 'text', (c) => c.notNull())
    .addColumn('upto_seq', bigint)
    .addColumn('created_at', bigint, (c) => c.notNull())
    .addUniqueConstraint('meter_jobs_once', ['kind', 'phone_number_id'])
    .execute();
  await db.schema.createIndex('meter_jobs_client').on('meter_jobs').columns(['client_id']).execute();
  // Re-metering walks a phone number's messages in key order, a slice at a time: without the key
  // in the index every slice would read and sort all of the number's messages.
  await db.schema.dropIndex('messages_phone').ifExists().execute();
  await db.schema.createIndex('messages_phone_key').on('messages').columns(['phone_number_id', 'message_key']).execute();
};

/**
 * 9: what `…/info/usage` reads instead of scanning `messages` (a month of a busy channel is
 * 600,000 rows): the delivered PMP messages counted per phone number, UTC day and everything that
 * tells their data points and charge groups apart, and per half hour within those day groups
 * (schema.ts, MessageUsageDaysTable). The meter keeps the counts (src/store/usage-queries.ts); here
 * they are filled from the messages already metered. The per-message index that only the old scan
 * used goes.
 */
const usageReadPaths: Migration = async (db, dialect) => {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  const key = ['country', 'category', 'raw_category', 'free', 'free_type', 'local_day', 'market', 'tier'] as const;
  let days = db.schema.createTable('message_usage_days')
    .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => c.primaryKey())
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('day', bigint, (c) => c.notNull());
  for (const column of key) days = days.addColumn(column, column === 'tier' ? 'integer' : 'text', (c) => c.notNull());
  await days.addColumn('volume', bigint, (c) => c.notNull())
    .addUniqueConstraint('message_usage_days_key', ['phone_number_id', 'day', ...key] as never)
    .execute();
  const halfHours = db.schema.createTable('message_usage_half_hours')
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('bucket', bigint, (c) => c.notNull())
    .addColumn('key_id', bigint, (c) => c.notNull())
    .addColumn('volume', bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('message_usage_half_hours_pk', ['phone_number_id', 'bucket', 'key_id']);
  // SQLite: rows in key order, so a phone number's half hours are one contiguous read.
  await (dialect === 'sqlite' ? halfHours.modifyEnd(sql`without rowid`) : halfHours).execute();

  // messageUsageKey (usage-queries.ts) in SQL.
  const country = sql`coalesce(m.country, '')`;
  const raw = sql`case when m.unit_category = 'other' then coalesce(m.pricing_category, m.conv_origin, '') else '' end`;
  const free = sql`coalesce(m.unit_free, '')`;
  const freeType = sql`case when m.unit_free = 'free_tier' then coalesce(m.pricing_type, '') else '' end`;
  const localDay = sql`coalesce(m.unit_local_day, '')`;
  const market = sql`coalesce(m.unit_market, '')`;
  const tier = sql`coalesce(m.unit_tier, 0)`;
  await sql`insert into message_usage_days (phone_number_id, day, country, category, raw_category, free, free_type, local_day, market, tier, volume)
    select m.phone_number_id, m.unit_day, ${country}, m.unit_category, ${raw}, ${free}, ${freeType}, ${localDay}, ${market}, ${tier}, count(*)
    from messages m where m.unit_day is not null group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10`.execute(db);
  await sql`insert into message_usage_half_hours (phone_number_id, bucket, key_id, volume)
    select m.phone_number_id, (coalesce(m.delivered_ts, m.read_ts) / 1800) * 1800, d.id, count(*)
    from messages m join message_usage_days d on d.phone_number_id = m.phone_number_id and d.day = m.unit_day
      and d.country = ${country} and d.category = m.unit_category and d.raw_category = ${raw} and d.free = ${free}
      and d.free_type = ${freeType} and d.local_day = ${localDay} and d.market = ${market} and d.tier = ${tier}
    where m.unit_day is not null group by 1, 2, 3`.execute(db);
  await db.schema.dropIndex('messages_phone_unit_day').ifExists().execute();
};

/**
 * 10: each ranking group remembers the rows at its tier boundaries, so re-ranking after a batch
 * moves them by the batch's net change instead of walking the group (a re-metering slice of a
 * 200,000-message group walked all of it). Empty for existing groups: the next re-ranking of each
 * walks it once. On PostgreSQL the ranking keys compare bytewise (collation "C"), as SQLite's and
 * JavaScript's comparisons do: the meter counts rows on each side of a boundary in JavaScript and
 * finds them in SQL, and the two must agree whatever the database's default collation is.
 */
const rankBoundaries: Migration = async (db, dialect) => {
  await db.schema.alterTable('rank_groups').addColumn('boundaries', 'text').execute();
  if (dialect === 'postgres') {
    for (const table of ['messages', 'conversations']) {
      await sql`alter table ${sql.table(table)} alter column rank_key type text collate "C"`.execute(db);
    }
    await sql`alter table rank_groups alter column rank_group type text collate "C"`.execute(db);
  }
};

/**
 * 11: re-metering walks a phone number's events (the log's `(phone_number_id, seq)` index) instead
 * of its messages, so every message saved no longer writes an index entry by phone number and
 * random key. Pending re-metering jobs start again from the log's beginning, up to its end now
 * (re-deriving a message twice changes nothing).
 */
const remeterByEvents: Migration = async (db) => {
  await db.schema.dropIndex('messages_phone_key').ifExists().execute();
  const last = await db.selectFrom('status_events').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
  await db.updateTable('meter_jobs').set({ position: '0', upto_seq: Number(last?.m ?? 0) }).where('kind', '=', 'remeter').execute();
};

/**
 * 12: the log deduplicates by (time, digest) (DEDUP_INDEX), on both stores. On SQLite the event log
 * lives in a file of its own (store/database.ts), so appending takes a write lock no metering
 * transaction holds. prepareEventLogFile, run before the migrations in a
 * transaction of its own, has created the log's table there and copied every event into it, and
 * that commit is on disk; this one checks the copy and drops the old table. Two steps, because a
 * transaction that writes two SQLite files in WAL mode commits each file on its own: a crash
 * between the two commits of one transaction could keep the drop and lose the copy.
 */
const eventLogFileOfItsOwn: Migration = async (db, dialect) => {
  if (dialect === 'postgres') {
    await sql`create unique index if not exists ${sql.raw(DEDUP_INDEX)} on status_events (ts, dedup_key)`.execute(db);
    // The name PostgreSQL gave migration 1's inline unique constraint.
    await sql`alter table status_events drop constraint if exists status_events_dedup_key_key`.execute(db);
    return;
  }
  const { rows } = await sql<{ n: number }>`select count(*) as n from main.status_events m
    where not exists (select 1 from log.status_events l where l.seq = m.seq and l.dedup_key = m.dedup_key)`.execute(db);
  if (Number(rows[0].n) > 0) throw new Error(`the event log's file lacks ${rows[0].n} events of the store's own log: not dropping it`);
  await sql`drop table main.status_events`.execute(db);
};

export const MIGRATIONS: Migration[] = [initial, charges, rateCards, accountUpdates, partnerAuth, listAndUsageIndexes, partnerCompatibility, meterJobs, usageReadPaths, rankBoundaries, remeterByEvents, eventLogFileOfItsOwn];

/** The first schema version whose SQLite store keeps the event log in a file of its own. */
export const LOG_APART_SINCE = MIGRATIONS.indexOf(eventLogFileOfItsOwn) + 1;

/**
 * SQLite: the event log's table in the log's own file (attached as `log`), with every event the
 * store's own table still holds (a store from before migration 12), in a transaction that writes
 * that file only. Idempotent; nothing to do once the store's table is gone.
 */
async function prepareEventLogFile(db: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ name: string }>`select name from pragma_database_list where name = 'log'`.execute(db);
  if (rows.length === 0) throw new Error('the SQLite store was opened without its event log file attached as "log" (open it with openStore)');
  await db.transaction().execute(async (trx) => {
    const inLog = await sql`select 1 from log.sqlite_master where type = 'table' and name = 'status_events'`.execute(trx);
    if (inLog.rows.length === 0) await createEventLog(trx, 'sqlite', true);
    const inMain = await sql`select 1 from main.sqlite_master where type = 'table' and name = 'status_events'`.execute(trx);
    if (inMain.rows.length === 0) return;
    const cols = sql.join(EVENT_COLUMNS.map((c) => sql.ref(c)));
    await sql`insert or ignore into log.status_events (${cols}) select ${cols} from main.status_events`.execute(trx);
    // And the highest sequence number ever handed out (AUTOINCREMENT's mark), which may lie past
    // the highest event kept: a number once used is never used again.
    await sql`insert into log.sqlite_sequence (name, seq) select 'status_events', 0
      where not exists (select 1 from log.sqlite_sequence where name = 'status_events')`.execute(trx);
    await sql`update log.sqlite_sequence set seq = max(seq, coalesce((select seq from main.sqlite_sequence where name = 'status_events'), 0))
      where name = 'status_events'`.execute(trx);
  });
}

/** The store's schema version: how many migrations it has (0 for an empty store). */
export async function schemaVersion(db: Kysely<Database>, dialect: Dialect): Promise<number> {
  // In the schema the connection works in (PostgreSQL's search_path), not in any schema.
  const found = dialect === 'postgres'
    ? await sql<{ e: boolean }>`select to_regclass('meta') is not null as e`.execute(db)
    : await sql<{ e: number }>`select count(*) as e from sqlite_master where type = 'table' and name = 'meta'`.execute(db);
  if (!found.rows[0]?.e) return 0;
  const row = await db.selectFrom('meta').select('value').where('key', '=', 'schema_version').executeTakeFirst();
  return row ? Number(row.value) : 0;
}

/**
 * Applies the migrations this build has and the store lacks (up to `target`), one transaction each. Several
 * processes may start at once against one PostgreSQL: each transaction takes the migration lock
 * and reads the version under it, so every migration runs exactly once and the others wait.
 */
export async function migrate(db: Kysely<Database>, dialect: Dialect, target = MIGRATIONS.length): Promise<void> {
  if (dialect === 'sqlite') await prepareEventLogFile(db);
  for (;;) {
    const done = await db.transaction().execute(async (trx) => {
      await takeLock(trx, dialect, 'migrate');
      await trx.schema.createTable('meta').ifNotExists()
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      const row = await trx.selectFrom('meta').select('value').where('key', '=', 'schema_version').executeTakeFirst();
      const current = row ? Number(row.value) : 0;
      if (current > MIGRATIONS.length) {
        throw new Error(`store schema version ${current} is newer than this build understands (${MIGRATIONS.length})`);
      }
      if (current >= target) return true;
      await MIGRATIONS[current](trx, dialect);
      const value = String(current + 1);
      await trx.insertInto('meta').values({ key: 'schema_version', value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
      return false;
    });
    if (done) return;
  }
}

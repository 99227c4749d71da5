/**
 * Data access for tenants: partners, their API keys (hashes only), clients and channels.
 */
import { sql, type Expression, type ExpressionBuilder, type Insertable, type Selectable, type SqlBool, type Updateable } from 'kysely';
import type { ApiKeysTable, ChannelsTable, ClientsTable, Database, Dialect, PartnersTable } from './schema.ts';
import type { Executor } from './meter-store.ts';

export type Partner = Selectable<PartnersTable>;
export type Client = Selectable<ClientsTable>;
export type Channel = Selectable<ChannelsTable>;

export async function insertPartner(db: Executor, p: Insertable<PartnersTable>): Promise<void> {
  await db.insertInto('partners').values(p).execute();
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

/** Filter keys of the client list (src/tenants/list-query.ts parses them). */
export const CLIENT_FILTER_KEYS = ['id', 'client_id', 'name', 'status', 'setup_info.phone_number', 'waba_account.id', 'currency', 'country', 'payment_mode'] as const;
export type ClientFilterKey = (typeof CLIENT_FILTER_KEYS)[number];
/** Sortable spellings of the client list → the column sorted on. */
export const CLIENT_SORT_FIELDS = {
  id: 'id', name: 'name', created_at: 'created_at', currency: 'currency', country: 'country', payment_mode: 'payment_mode', timezone: 'timezone',
} as const satisfies Record<string, keyof ClientsTable>;
export type ClientSortField = (typeof CLIENT_SORT_FIELDS)[keyof typeof CLIENT_SORT_FIELDS];

/** Filter keys of the channel lists; flat names and 360dialog's nested ones. */
export const CHANNEL_FILTER_KEYS = [
  'id', 'client_id', 'status', 'name', 'setup_info.phone_number', 'phone_number', 'waba_account.id', 'waba_id',
  'phone_number_id', 'integration.app_id', 'app_id',
] as const;
export type ChannelFilterKey = (typeof CHANNEL_FILTER_KEYS)[number];
export const CHANNEL_SORT_FIELDS = {
  id: 'id', client_id: 'client_id', created_at: 'created_at', phone_number: 'phone_number', 'setup_info.phone_number': 'phone_number',
  phone_number_id: 'phone_number_id', waba_id: 'waba_id', 'waba_account.id': 'waba_id', app_id: 'app_id', 'integration.app_id': 'app_id',
} as const satisfies Record<string, keyof ChannelsTable>;
export type ChannelSortField = (typeof CHANNEL_SORT_FIELDS)[keyof typeof CHANNEL_SORT_FIELDS];

export interface PageQuery<K extends string, S extends string> {
  filters: { key: K; value: string }[];
  sort: { field: S; desc: boolean }[];
  limit: number;
  offset: number;
  /** The value every row has for a derived, constant field (`status`): a filter on it matches all rows or none. */
  derivedStatus: string;
  /** Text sorts compare code points on both engines (PostgreSQL: COLLATE "C"). */
  dialect: Dialect;
}

const NONE = sql<SqlBool>`1 = 0`;

/** `%value%` for LIKE, with the value's own wildcards escaped (ESCAPE '\'). */
function containsPattern(value: string): string {
  return `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
const containsIgnoringCase = (column: Expression<string>, value: string) =>
  sql<SqlBool>`lower(${column}) like lower(${containsPattern(value)}) escape '\\'`;

/** The digits of a stored phone number (the API accepts digits, spaces, +, -, ( and )). */
const phoneDigits = (column: Expression<string>) =>
  sql<string>`replace(replace(replace(replace(replace(${column}, ' ', ''), '+', ''), '-', ''), '(', ''), ')', '')`;
/** Equality on digits only: `+49 30 1234567` = `49301234567`; a value without digits matches nothing. */
function phoneEquals(column: Expression<string>, value: string): Expression<SqlBool> {
  const digits = value.replace(/\D/g, '');
  return digits === '' ? NONE : sql<SqlBool>`${phoneDigits(column)} = ${digits}`;
}

const statusMatches = (value: string, derived: string) => (value.trim().toLowerCase() === derived.toLowerCase() ? sql<SqlBool>`1 = 1` : NONE);

function clientCondition(eb: ExpressionBuilder<Database, 'clients'>, f: { key: ClientFilterKey; value: string }, derived: string): Expression<SqlBool> {
  switch (f.key) {
    case 'id':
    case 'client_id':
      return eb('clients.id', '=', f.value);
    case 'name':
      return containsIgnoringCase(eb.ref('clients.name'), f.value);
    case 'status':
      return statusMatches(f.value, derived);
    case 'currency':
      return eb('clients.currency', '=', f.value.trim().toUpperCase());
    case 'country':
      return eb('clients.country', '=', f.value.trim().toUpperCase());
    case 'payment_mode':
      return eb('clients.payment_mode', '=', f.value.trim().toLowerCase());
    case 'setup_info.phone_number':
      return eb.exists(eb.selectFrom('channels').select(sql.lit(1).as('one'))
        .whereRef('channels.client_id', '=', 'clients.id')
        .where(() => phoneEquals(sql.ref('channels.phone_number'), f.value)));
    case 'waba_account.id':
      return eb.exists(eb.selectFrom('channels').select(sql.lit(1).as('one'))
        .whereRef('channels.client_id', '=', 'clients.id').where('channels.waba_id', '=', f.value));
  }
}

function channelCondition(eb: ExpressionBuilder<Database, 'channels'>, f: { key: ChannelFilterKey; value: string }, derived: string): Expression<SqlBool> {
  switch (f.key) {
    case 'id':
      return eb('channels.id', '=', f.value);
    case 'client_id':
      return eb('channels.client_id', '=', f.value);
    case 'status':
      return statusMatches(f.value, derived);
    case 'name': // a channel has no name of its own: its client's
      return eb.exists(eb.selectFrom('clients').select(sql.lit(1).as('one'))
        .whereRef('clients.id', '=', 'channels.client_id')
        .where((c) => containsIgnoringCase(c.ref('clients.name'), f.value)));
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
    .where((eb) => eb.and(q.filters.map((f) => clientCondition(eb, f, q.derivedStatus))));
  const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let page = base.selectAll('clients');
  for (const t of orderTerms(q)) page = page.orderBy(ordered(q.dialect, 'clients', t.column), t.desc ? 'desc' : 'asc');
  const rows = Number(n) === 0 ? [] : await page.limit(q.limit).offset(q.offset).execute();
  return { total: Number(n), rows };
}

/** One page of a partner's channels (of one client, or all), filtered and sorted in SQL. */
export async function channelsPage(db: Executor, partnerId: string, clientId: string | null, q: PageQuery<ChannelFilterKey, ChannelSortField>): Promise<{ total: number; rows: Channel[] }> {
  let base = db.selectFrom('channels').where('channels.partner_id', '=', partnerId);
  if (clientId != null) base = base.where('channels.client_id', '=', clientId);
  base = base.where((eb) => eb.and(q.filters.map((f) => channelCondition(eb, f, q.derivedStatus))));
  const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let page = base.selectAll('channels');
  for (const t of orderTerms(q)) page = page.orderBy(ordered(q.dialect, 'channels', t.column), t.desc ? 'desc' : 'asc');
  const rows = Number(n) === 0 ? [] : await page.limit(q.limit).offset(q.offset).execute();
  return { total: Number(n), rows };
}

/** One channel of one client of one partner. */
export async function channelOfClient(db: Executor, partnerId: string, clientId: string, channelId: string): Promise<Channel | undefined> {
  return db.selectFrom('channels').selectAll()
    .where('partner_id', '=', partnerId).where('client_id', '=', clientId).where('id', '=', channelId).executeTakeFirst();
}

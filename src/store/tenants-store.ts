/**
 * Data access for tenants: partners, their API keys (hashes only), clients and channels.
 */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { ApiKeysTable, ChannelsTable, ClientsTable, PartnersTable } from './schema.ts';
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

/** The partner owning an unrevoked key with this hash. */
export async function partnerOfKeyHash(db: Executor, keyHash: string): Promise<string | undefined> {
  const r = await db.selectFrom('api_keys').select('partner_id')
    .where('key_hash', '=', keyHash).where('revoked_at', 'is', null).executeTakeFirst();
  return r?.partner_id;
}

export async function insertClient(db: Executor, c: Insertable<ClientsTable>): Promise<void> {
  await db.insertInto('clients').values(c).execute();
}

export async function clientsOfPartner(db: Executor, partnerId: string): Promise<Client[]> {
  return db.selectFrom('clients').selectAll().where('partner_id', '=', partnerId).orderBy('created_at').orderBy('id').execute();
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

/**
 * Data access for partner credentials: named API keys, channel API keys, partner users and their
 * token pairs. Secrets are never stored: keys and tokens by SHA-256 hash, passwords by scrypt hash.
 */
import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../store/meter-store.ts';
import type { ApiKeysTable, ChannelApiKeysTable, PartnerTokensTable, PartnerUsersTable } from '../store/schema.ts';

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type PartnerUserRow = Selectable<PartnerUsersTable>;
export type TokenPairRow = Selectable<PartnerTokensTable>;

export async function partnerExists(db: Executor, partnerId: string): Promise<boolean> {
  return (await db.selectFrom('partners').select('id').where('id', '=', partnerId).executeTakeFirst()) !== undefined;
}

// ---- API keys -------------------------------------------------------------------------------

export async function insertApiKey(db: Executor, k: Insertable<ApiKeysTable>): Promise<void> {
  await db.insertInto('api_keys').values(k).execute();
}

/** The key with this hash, revoked or not. */
export async function apiKeyByHash(db: Executor, keyHash: string): Promise<Pick<ApiKeyRow, 'id' | 'partner_id' | 'revoked_at'> | undefined> {
  return db.selectFrom('api_keys').select(['id', 'partner_id', 'revoked_at']).where('key_hash', '=', keyHash).executeTakeFirst();
}

export async function apiKeysOfPartner(db: Executor, partnerId: string) {
  return db.selectFrom('api_keys').select(['id', 'name', 'created_at', 'revoked_at', 'last4'])
    .where('partner_id', '=', partnerId).orderBy('created_at').orderBy('id').execute();
}

export async function countActiveApiKeys(db: Executor, partnerId: string): Promise<number> {
  const r = await db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('partner_id', '=', partnerId).where('revoked_at', 'is', null).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Revokes one key of one partner (idempotent); false when the partner has no such key. */
export async function revokeApiKey(db: Executor, partnerId: string, keyId: string, at: string): Promise<boolean> {
  const key = await db.selectFrom('api_keys').select(['id', 'revoked_at']).where('partner_id', '=', partnerId).where('id', '=', keyId).executeTakeFirst();
  if (!key) return false;
  if (key.revoked_at == null) {
    await db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', keyId).where('revoked_at', 'is', null).execute();
  }
  return true;
}

// ---- channel API keys ------------------------------------------------------------------------

export type ChannelKeyRow = Selectable<ChannelApiKeysTable>;

/** The channel if `partnerId` holds it, with what a channel key reports about it. */
export async function channelOfPartner(db: Executor, partnerId: string, channelId: string) {
  return db.selectFrom('channels').select(['id', 'client_id', 'app_id'])
    .where('partner_id', '=', partnerId).where('id', '=', channelId).executeTakeFirst();
}

export async function insertChannelKey(db: Executor, k: Insertable<ChannelApiKeysTable>): Promise<void> {
  await db.insertInto('channel_api_keys').values(k).execute();
}

/**
 * The key with this hash, revoked or not, with its channel's partner and client as they are now
 * (read from the channel, so the scope follows the channel rather than a copy made at creation).
 */
export async function channelKeyByHash(db: Executor, keyHash: string) {
  return db.selectFrom('channel_api_keys').innerJoin('channels', 'channels.id', 'channel_api_keys.channel_id')
    .select(['channel_api_keys.id', 'channel_api_keys.revoked_at', 'channel_api_keys.channel_id', 'channels.client_id', 'channels.partner_id'])
    .where('channel_api_keys.key_hash', '=', keyHash).executeTakeFirst();
}

/** Every key of a channel, revoked ones too, oldest first. */
export async function channelKeysOfChannel(db: Executor, channelId: string) {
  return db.selectFrom('channel_api_keys').select(['id', 'client_id', 'channel_id', 'name', 'created_at', 'revoked_at', 'last4'])
    .where('channel_id', '=', channelId).orderBy('created_at').orderBy('id').execute();
}

export async function countActiveChannelKeys(db: Executor, channelId: string): Promise<number> {
  const r = await db.selectFrom('channel_api_keys').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('channel_id', '=', channelId).where('revoked_at', 'is', null).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Revokes every active key of a channel; the number revoked. */
export async function revokeChannelKeys(db: Executor, channelId: string, at: string): Promise<number> {
  const r = await db.updateTable('channel_api_keys').set({ revoked_at: at })
    .where('channel_id', '=', channelId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/**
 * Revokes one key of a channel: 1 when this call revoked it, 0 when it was revoked already,
 * undefined when the channel has no such key.
 */
export async function revokeChannelKey(db: Executor, channelId: string, keyId: string, at: string): Promise<0 | 1 | undefined> {
  const key = await db.selectFrom('channel_api_keys').select('id').where('channel_id', '=', channelId).where('id', '=', keyId).executeTakeFirst();
  if (!key) return undefined;
  const r = await db.updateTable('channel_api_keys').set({ revoked_at: at })
    .where('id', '=', keyId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1 ? 1 : 0;
}

// ---- partner users --------------------------------------------------------------------------

export async function insertUser(db: Executor, u: Insertable<PartnerUsersTable>): Promise<void> {
  await db.insertInto('partner_users').values(u).execute();
}

export async function userByUsername(db: Executor, username: string): Promise<PartnerUserRow | undefined> {
  return db.selectFrom('partner_users').selectAll().where('username', '=', username).executeTakeFirst();
}

export async function usersOfPartner(db: Executor, partnerId: string) {
  return db.selectFrom('partner_users').select(['id', 'partner_id', 'username', 'created_at', 'revoked_at'])
    .where('partner_id', '=', partnerId).orderBy('created_at').orderBy('id').execute();
}

/** Revokes a user and every token pair issued to it; false when the partner has no such user. */
export async function revokeUser(db: Executor, partnerId: string, userId: string, at: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('partner_users').select(['id', 'revoked_at']).where('partner_id', '=', partnerId).where('id', '=', userId).executeTakeFirst();
    if (!user) return false;
    if (user.revoked_at == null) await trx.updateTable('partner_users').set({ revoked_at: at }).where('id', '=', userId).execute();
    await trx.updateTable('partner_tokens').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    return true;
  });
}

// ---- token pairs ----------------------------------------------------------------------------

export async function insertTokenPair(db: Executor, t: Insertable<PartnerTokensTable>): Promise<void> {
  await db.insertInto('partner_tokens').values(t).execute();
}

export async function tokenPairByAccessHash(db: Executor, accessHash: string): Promise<TokenPairRow | undefined> {
  return db.selectFrom('partner_tokens').selectAll().where('access_hash', '=', accessHash).executeTakeFirst();
}

export async function tokenPairByRefreshHash(db: Executor, refreshHash: string): Promise<TokenPairRow | undefined> {
  return db.selectFrom('partner_tokens').selectAll().where('refresh_hash', '=', refreshHash).executeTakeFirst();
}

/**
 * Spends a refresh token: true for the one caller that marks it used, false for a token already
 * spent or revoked (a concurrent refresh with the same token loses).
 */
export async function spendRefreshToken(db: Executor, pairId: string, at: string): Promise<boolean> {
  const r = await db.updateTable('partner_tokens').set({ refresh_used_at: at })
    .where('id', '=', pairId).where('refresh_used_at', 'is', null).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Deletes pairs whose refresh token has expired (their access token expired before). */
export async function purgeExpiredTokenPairs(db: Executor, nowSeconds: number): Promise<number> {
  const r = await db.deleteFrom('partner_tokens').where('refresh_expires_at', '<', nowSeconds).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * Partner credentials: named API keys (`X-API-Key`), channel API keys (scoped to reading one
 * channel's usage, src/auth/channel-keys.ts), partner users, and the legacy token flow
 * (`POST /api/v2/token` → an opaque access token for `Authorization: Bearer` and a single-use
 * refresh token). Keys and tokens are random strings shown once and stored as SHA-256 hashes, so
 * a copy of the database authenticates nobody; passwords are scrypt hashes.
 *
 * The token endpoint must be cheap (one real client asks for a token before every call), and
 * scrypt is deliberately slow. So a successful verification is remembered in memory for a short
 * while (LOGIN_CACHE_MS), keyed by an HMAC of username and password under a per-process random
 * key (the map holds no password and nothing an offline guesser could use after the process
 * ends). A cache hit still re-reads the user row and must find the very password hash it
 * verified against, not revoked: a password change or revocation, by this process or another
 * sharing the store, takes effect at once. Failed logins are never cached (guessing always pays
 * scrypt), and an unknown user costs the same scrypt as a wrong password.
 *
 * Every successful login issues a new pair, even within that window. Refresh tokens are
 * single-use, so two processes that log in with one user and got the same pair would spend each
 * other's refresh token; the price is a row per login, and expired pairs are purged as new ones
 * are issued (PURGE_EVERY_MS).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { AppError, conflict, notFound } from '../errors.ts';
import { hashSecret, newId } from '../ids.ts';
import { isUniqueViolation, type Store } from '../store/database.ts';
import * as store from './auth-store.ts';
import { createChannelKeys } from './channel-keys.ts';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwords.ts';

export interface AuthSettings {
  /** Access token lifetime in seconds (WABAMETER_TOKEN_TTL). */
  accessTokenTtl: number;
  /** Refresh token lifetime in seconds (WABAMETER_REFRESH_TOKEN_TTL). */
  refreshTokenTtl: number;
}

export const DEFAULT_AUTH_SETTINGS: AuthSettings = { accessTokenTtl: 86400, refreshTokenTtl: 30 * 86400 };

export interface AuthDeps {
  store: Store;
  settings?: Partial<AuthSettings>;
  /** Milliseconds since the epoch (tests move time forward with it). */
  nowMs?: () => number;
}

/** The kinds of partner secret, told apart by prefix so a misplaced one gets a precise 401 (channel keys: CHANNEL_KEY_PREFIX). */
export const API_KEY_PREFIX = 'wbm_';
export const ACCESS_TOKEN_PREFIX = 'wbt_';
export const REFRESH_TOKEN_PREFIX = 'wbr_';

/** How long a verified username+password is trusted without scrypt. */
const LOGIN_CACHE_MS = 60_000;
const LOGIN_CACHE_MAX = 10_000;
/** How often expired token pairs are deleted (on issuance). */
const PURGE_EVERY_MS = 60_000;
/** Enough for rotation and per-environment keys; a runaway script creating keys stops here. */
export const MAX_ACTIVE_KEYS = 100;

export interface TokenPair {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
}

export type Authenticated = {
  partnerId: string;
  keyId?: string;
  userId?: string;
  /** Set for a channel API key: the only channel (and its client) whose usage it may read. */
  channelId?: string;
  clientId?: string;
};
export type Rejected = { rejected: 'unknown' | 'revoked' | 'expired' };

interface CachedLogin {
  userId: string;
  passwordHash: string;
  expiresAt: number;
}

const invalidGrant = (message: string) => new AppError(401, 'invalid_grant', message);

export function createAuthService(deps: AuthDeps) {
  const db = deps.store.db;
  const settings: AuthSettings = { ...DEFAULT_AUTH_SETTINGS, ...deps.settings };
  const nowMs = deps.nowMs ?? Date.now;
  const nowSeconds = () => Math.floor(nowMs() / 1000);
  const nowIso = () => new Date(nowMs()).toISOString();
  const cacheKeySecret = randomBytes(32);
  const logins = new Map<string, CachedLogin>();
  let lastPurge = 0;
  /** Counters for monitoring (and for tests that check the token endpoint stays cheap). */
  const stats = { passwordVerifications: 0, tokenPairsIssued: 0 };

  const loginKey = (username: string, password: string) =>
    createHmac('sha256', cacheKeySecret).update(username).update('\0').update(password).digest('base64url');

  function remember(key: string, entry: CachedLogin) {
    logins.delete(key);
    logins.set(key, entry);
    while (logins.size > LOGIN_CACHE_MAX) logins.delete(logins.keys().next().value as string);
  }

  async function issuePair(userId: string, partnerId: string): Promise<TokenPair> {
    const access = `${ACCESS_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const refresh = `${REFRESH_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = nowSeconds();
    await store.insertTokenPair(db, {
      id: newId('TK'),
      user_id: userId,
      partner_id: partnerId,
      access_hash: hashSecret(access),
      refresh_hash: hashSecret(refresh),
      access_expires_at: now + settings.accessTokenTtl,
      refresh_expires_at: now + settings.refreshTokenTtl,
      created_at: nowIso(),
      refresh_used_at: null,
      revoked_at: null,
    });
    stats.tokenPairsIssued++;
    if (nowMs() - lastPurge >= PURGE_EVERY_MS) {
      lastPurge = nowMs();
      await store.purgeExpiredTokenPairs(db, now);
    }
    return { access_token: access, token_type: 'Bearer', expires_in: settings.accessTokenTtl, refresh_token: refresh };
  }

  const channelKeys = createChannelKeys({ db, nowIso });

  return {
    settings,
    stats,
    /** Channel API keys of the partner's channels (create, list, revoke). */
    channelKeys,

    // ---- authenticating a request ----------------------------------------------------------

    /** The partner an API key belongs to, or why it is refused. */
    async checkApiKey(key: string): Promise<Authenticated | Rejected> {
      const row = await store.apiKeyByHash(db, hashSecret(key));
      if (!row) return { rejected: 'unknown' };
      if (row.revoked_at != null) return { rejected: 'revoked' };
      return { partnerId: row.partner_id, keyId: row.id };
    },

    /** The partner an access token was issued for, or why it is refused. */
    async checkAccessToken(token: string): Promise<Authenticated | Rejected> {
      const row = await store.tokenPairByAccessHash(db, hashSecret(token));
      if (!row) return { rejected: 'unknown' };
      if (row.revoked_at != null) return { rejected: 'revoked' };
      if (row.access_expires_at <= nowSeconds()) return { rejected: 'expired' };
      return { partnerId: row.partner_id, userId: row.user_id };
    },

    /** The partner and the one channel a channel API key is scoped to, or why it is refused. */
    checkChannelKey: (key: string): Promise<Authenticated | Rejected> => channelKeys.check(key),

    // ---- named API keys --------------------------------------------------------------------

    async createApiKey(partnerId: string, name: string) {
      if (!(await store.partnerExists(db, partnerId))) throw notFound('Partner');
      if ((await store.countActiveApiKeys(db, partnerId)) >= MAX_ACTIVE_KEYS) {
        throw conflict(`A partner holds at most ${MAX_ACTIVE_KEYS} active API keys`, ['Revoke unused keys with DELETE /api/v2/partners/{partner_id}/api_keys/{key_id}']);
      }
      const apiKey = `${API_KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
      const row = { id: newId('AK'), partner_id: partnerId, name, key_hash: hashSecret(apiKey), created_at: nowIso(), revoked_at: null, last4: apiKey.slice(-4) };
      await store.insertApiKey(db, row);
      return { id: row.id, name: row.name, api_key: apiKey, created_at: row.created_at };
    },

    async listApiKeys(partnerId: string) {
      const rows = await store.apiKeysOfPartner(db, partnerId);
      return rows.map((k) => ({ id: k.id, name: k.name, created_at: k.created_at, revoked_at: k.revoked_at ?? null, last4: k.last4 ?? null }));
    },

    async revokeApiKey(partnerId: string, keyId: string): Promise<void> {
      if (!(await store.revokeApiKey(db, partnerId, keyId, nowIso()))) throw notFound('API key');
    },

    // ---- partner users ---------------------------------------------------------------------

    async createUser(partnerId: string, username: string, password: string) {
      if (!(await store.partnerExists(db, partnerId))) throw notFound('Partner');
      const user = { id: newId('PU'), partner_id: partnerId, username, password_hash: await hashPassword(password), created_at: nowIso(), revoked_at: null };
      try {
        await store.insertUser(db, user);
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`Username "${username}" is taken`, ['username: must be unique across partners (the token endpoint names no partner)']);
        throw err;
      }
      return { id: user.id, partner_id: partnerId, username, created_at: user.created_at, revoked_at: null };
    },

    async listUsers(partnerId: string) {
      if (!(await store.partnerExists(db, partnerId))) throw notFound('Partner');
      return (await store.usersOfPartner(db, partnerId)).map((u) => ({ ...u, revoked_at: u.revoked_at ?? null }));
    },

    /** Revokes a user and every token issued to it. */
    async revokeUser(partnerId: string, userId: string): Promise<void> {
      if (!(await store.revokeUser(db, partnerId, userId, nowIso()))) throw notFound('User');
      for (const [key, entry] of logins) if (entry.userId === userId) logins.delete(key);
    },

    // ---- the token endpoint ----------------------------------------------------------------

    /** `grant_type=password`: a token pair for a partner user's username and password. */
    async login(username: string, password: string): Promise<TokenPair> {
      const key = loginKey(username, password);
      const user = await store.userByUsername(db, username);
      const cached = logins.get(key);
      const live = user && user.revoked_at == null ? user : undefined;
      // The cache vouches only for the very password hash it verified, while it is fresh.
      const verifiedRecently = (u: NonNullable<typeof live>) =>
        cached !== undefined && cached.expiresAt > nowMs() && cached.userId === u.id && cached.passwordHash === u.password_hash;
      if (!live || !verifiedRecently(live)) {
        if (cached) logins.delete(key);
        stats.passwordVerifications++;
        const ok = await verifyPassword(password, live?.password_hash ?? DUMMY_HASH);
        if (!live || !ok) throw invalidGrant('Username or password is wrong');
        remember(key, { userId: live.id, passwordHash: live.password_hash, expiresAt: nowMs() + LOGIN_CACHE_MS });
      }
      // A new pair every time (see the module comment): never one another caller may be holding.
      return issuePair(live.id, live.partner_id);
    },

    /** `grant_type=refresh_token`: a new pair for a live refresh token, which is spent. */
    async refresh(refreshToken: string): Promise<TokenPair> {
      const refused = () => invalidGrant('Refresh token unknown, expired, revoked or already used: log in again with username and password');
      if (!refreshToken.startsWith(REFRESH_TOKEN_PREFIX)) throw refused();
      const row = await store.tokenPairByRefreshHash(db, hashSecret(refreshToken));
      if (!row || row.revoked_at != null || row.refresh_used_at != null || row.refresh_expires_at <= nowSeconds()) throw refused();
      if (!(await store.spendRefreshToken(db, row.id, nowIso()))) throw refused();
      return issuePair(row.user_id, row.partner_id);
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;

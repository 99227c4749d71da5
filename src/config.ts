/**
 * Configuration from the environment, validated once at start.
 */
import { randomBytes } from 'node:crypto';
import { parseRateLimit, type RateLimitRule } from './api/rate-limit.ts';

/** The embedded store, when DATABASE_URL names none. */
export const DEFAULT_DATABASE_URL = 'sqlite:./data/wabameter.db';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  adminToken: string;
  /** True when WABAMETER_ADMIN_TOKEN was unset and a token was generated for this run. */
  adminTokenGenerated: boolean;
  /** App secrets for X-Hub-Signature-256 (several during a rotation); empty = signatures not checked. */
  appSecrets: string[];
  verifyToken: string | null;
  /** Load the demo data set when the store is empty. */
  demo: boolean;
  webhookBodyLimit: number;
  logLevel: string;
  /** Access token lifetime in seconds (WABAMETER_TOKEN_TTL). */
  tokenTtl: number;
  /** Refresh token lifetime in seconds (WABAMETER_REFRESH_TOKEN_TTL). */
  refreshTokenTtl: number;
  /** Limit on `…/info/balance` per client (WABAMETER_BALANCE_RATE_LIMIT, e.g. `5/30s`); null = none. */
  balanceRateLimit: RateLimitRule | null;
  /** Redis shared by the service's processes for that limit (REDIS_URL); null = each process counts alone. */
  redisUrl: string | null;
  /** Put before every Redis key (WABAMETER_REDIS_PREFIX), so several deployments can share one Redis. */
  redisPrefix: string;
  /** How long a usage read waits for the meter before a 503 (WABAMETER_READ_WAIT_MS). */
  readWaitMs: number;
  /** Where the meter runs (WABAMETER_PROJECTOR): `thread` (default) beside the HTTP thread, or `inline` on it. */
  projector: 'thread' | 'inline';
}

/** REDIS_URL: a redis:// or rediss:// URL. Messages never echo the value: it may hold a password. */
function redisUrl(env: NodeJS.ProcessEnv): string | null {
  const raw = env.REDIS_URL?.trim();
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('REDIS_URL must be a URL such as redis://host:6379 or rediss://host:6380 (the value given is not a URL)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`REDIS_URL must start with redis:// or rediss://, got "${url.protocol}//…"`);
  if (!url.hostname) throw new Error('REDIS_URL must name a host, e.g. redis://127.0.0.1:6379');
  return raw;
}

function redisPrefix(env: NodeJS.ProcessEnv): string {
  const raw = env.WABAMETER_REDIS_PREFIX;
  if (raw === undefined || raw === '') return 'wabameter:';
  // Printable, no spaces: the prefix shows up in redis-cli and in SCAN patterns.
  if (!/^[\x21-\x7e]{1,100}$/.test(raw)) throw new Error(`WABAMETER_REDIS_PREFIX must be 1-100 printable characters without spaces, got "${raw}"`);
  return raw;
}

function readWaitMs(env: NodeJS.ProcessEnv): number {
  const raw = env.WABAMETER_READ_WAIT_MS?.trim();
  if (!raw) return 10_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`WABAMETER_READ_WAIT_MS must be a whole number of milliseconds ≥ 1, got "${raw}"`);
  return n;
}

function projector(env: NodeJS.ProcessEnv): 'thread' | 'inline' {
  const raw = env.WABAMETER_PROJECTOR?.trim();
  if (!raw) return 'thread';
  if (raw !== 'thread' && raw !== 'inline') throw new Error(`WABAMETER_PROJECTOR must be "thread" or "inline", got "${raw}"`);
  return raw;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number of seconds ≥ ${min}, got "${raw}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  const bodyLimit = Number(env.WEBHOOK_BODY_LIMIT ?? 16 * 1024 * 1024);
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1024) throw new Error(`WEBHOOK_BODY_LIMIT must be a byte count, got "${env.WEBHOOK_BODY_LIMIT}"`);
  const adminToken = env.WABAMETER_ADMIN_TOKEN?.trim();
  const tokenTtl = seconds(env, 'WABAMETER_TOKEN_TTL', 86400, 60);
  const refreshTokenTtl = seconds(env, 'WABAMETER_REFRESH_TOKEN_TTL', Math.max(30 * 86400, tokenTtl), 60);
  if (refreshTokenTtl < tokenTtl) throw new Error('WABAMETER_REFRESH_TOKEN_TTL must be at least WABAMETER_TOKEN_TTL');
  let balanceRateLimit: RateLimitRule | null;
  try {
    balanceRateLimit = parseRateLimit(env.WABAMETER_BALANCE_RATE_LIMIT?.trim() || '5/30s');
  } catch (err) {
    throw new Error(`WABAMETER_BALANCE_RATE_LIMIT: ${(err as Error).message}`);
  }
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    databaseUrl: env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    adminToken: adminToken || `wbm_admin_${randomBytes(18).toString('base64url')}`,
    adminTokenGenerated: !adminToken,
    appSecrets: (env.WHATSAPP_APP_SECRET ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    verifyToken: env.WHATSAPP_VERIFY_TOKEN?.trim() || null,
    demo: !['0', 'false', 'no', 'off'].includes((env.WABAMETER_DEMO ?? '1').toLowerCase()),
    webhookBodyLimit: bodyLimit,
    logLevel: env.LOG_LEVEL ?? 'info',
    tokenTtl,
    refreshTokenTtl,
    balanceRateLimit,
    redisUrl: redisUrl(env),
    redisPrefix: redisPrefix(env),
    readWaitMs: readWaitMs(env),
    projector: projector(env),
  };
}

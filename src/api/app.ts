/**
 * Builds the HTTP application: error handling first, then the route groups. Tests build the
 * same app and call it with `inject()` or over a listening socket.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import { AppError } from '../errors.ts';
import type { Services } from '../services.ts';
import { requireAdmin, requirePartner } from './auth.ts';
import { registerErrorHandling, sendError } from './error-handler.ts';
import { registerOpenApi, serializeWithJsonStringify } from './openapi.ts';
import { balanceRateLimit, DEFAULT_BALANCE_RATE_LIMIT, type RateLimitRule, type RateLimitStore } from './rate-limit.ts';
import { FORMATS } from './formats.ts';
import { guardInput } from './input-guard.ts';
import { HealthResponse } from './schemas.ts';
import { accountRoutes } from './routes/accounts.ts';
import { authRoutes } from './routes/auth.ts';
import { balanceRoutes } from './routes/balance.ts';
import { channelKeyRoutes } from './routes/channel-keys.ts';
import { rateCardRoutes } from './routes/rate-cards.ts';
import { messagingProviderRoutes } from './routes/messaging-provider.ts';
import { partnerRoutes } from './routes/partners.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { usageRoutes } from './routes/usage.ts';
import { webhookRoutes } from './routes/webhooks.ts';

export interface AppOptions {
  adminToken: string;
  appSecrets: string[];
  verifyToken: string | null;
  webhookBodyLimit: number;
  logLevel?: string;
  /** Where log lines go (default stdout); tests capture them. */
  logStream?: { write(line: string): unknown };
  /** Limit on `…/info/balance` per client (default 5 per 30 s); null = none. */
  balanceRateLimit?: RateLimitRule | null;
  /**
   * Shared counter store for the limit (default: this process's memory). A store with `health()`
   * is reported by `GET /healthz` as `rate_limit` (the service always passes one).
   */
  rateLimitStore?: RateLimitStore;
  /** The rate limit's clock in milliseconds (tests move it). */
  nowMs?: () => number;
  /** How long a usage read waits for the meter to catch up before a 503 (default 10 s). */
  readWaitMs?: number;
}

export const DEFAULT_READ_WAIT_MS = 10_000;

/**
 * Waits for the meter to catch up (and, for a client's read, for jobs recomputing that client);
 * past `ms`, a 503 with Retry-After (the wait goes on without the request).
 */
async function waitForMeter(services: Services, ms: number, reply: FastifyReply, clientId: string | undefined): Promise<void> {
  const caughtUp = services.queue.caughtUp(clientId);
  caughtUp.catch(() => undefined); // a failure after the bound is the meter's to log, not this request's
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), ms); });
  try {
    if ((await Promise.race([caughtUp.then(() => 'done' as const), late])) === 'done') return;
  } finally {
    clearTimeout(timer);
  }
  const retry = Math.max(1, Math.ceil(ms / 1000));
  reply.header('retry-after', retry);
  if (clientId !== undefined && (await services.queue.recomputing(clientId).catch(() => false))) {
    throw new AppError(503, 'meter_recomputing', `Usage of client ${clientId} is being recomputed (a late channel's statuses, a pricing-profile or rate change) and was not done within ${ms} ms; retry after ${retry} seconds`,
      ['The recomputation runs in the background and survives restarts; reads answer again once it is done', `Retry-After: ${retry}`]);
  }
  throw new AppError(503, 'meter_behind', `Usage is still being metered: the meter has not caught up with every acknowledged webhook within ${ms} ms; retry after ${retry} seconds`,
    ['Nothing acknowledged is lost; the read will include it once the meter catches up', `Retry-After: ${retry}`]);
}

export async function buildApp(services: Services, opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: opts.logLevel ?? 'silent',
      redact: ['req.headers["x-api-key"]', 'req.headers.authorization', 'req.headers["d360-api-key"]', 'req.body.password', 'req.body.refresh_token'],
      ...(opts.logStream ? { stream: opts.logStream } : {}),
    },
    // One log line per webhook would drown the log; errors are still logged with their request.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { allErrors: true, coerceTypes: true, formats: FORMATS } },
    bodyLimit: 1024 * 1024,
    // Errors Fastify raises before routing (an over-long or badly escaped URL) get the envelope too.
    frameworkErrors: (error, _request, reply) =>
      sendError(reply, error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400, 'invalid_request', `The request URL is invalid: ${error.message}`),
  });
  registerErrorHandling(app);
  // Response schemas document the API; they never reshape a response (see openapi.ts).
  serializeWithJsonStringify(app);
  // Before any route: the OpenAPI generator collects routes as they are added.
  await registerOpenApi(app);
  // Who is calling is settled before the request is validated: a caller without credentials
  // learns nothing about what a valid request looks like.
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url ?? '';
    if (route.startsWith('/admin/')) requireAdmin(request, opts.adminToken);
    else if (route.startsWith('/api/v2/partners/:partner_id')) {
      await requirePartner(request, (request.params as { partner_id: string }).partner_id, services.auth);
    }
  });
  // After authentication: only a caller entitled to a client's data uses up its quota.
  const balanceLimit = opts.balanceRateLimit === undefined ? DEFAULT_BALANCE_RATE_LIMIT : opts.balanceRateLimit;
  if (balanceLimit) {
    const { tenants } = services;
    app.addHook('onRequest', balanceRateLimit({
      rule: balanceLimit,
      store: opts.rateLimitStore,
      nowMs: opts.nowMs,
      resolve: (p) => (p.channel_id ? tenants.getChannel(p.partner_id, p.client_id, p.channel_id) : tenants.getClient(p.partner_id, p.client_id)),
    }));
  }
  app.addHook('preHandler', guardInput);
  // Reads of usage see every acknowledged webhook: wait for the meter to reach the log's end,
  // within a bound (a stuck meter is a clear 503, not a hung request).
  const readWaitMs = opts.readWaitMs ?? DEFAULT_READ_WAIT_MS;
  app.addHook('preHandler', async (request, reply) => {
    if (request.method === 'GET' && (request.routeOptions.url ?? '').startsWith('/api/v2/partners/:partner_id')) {
      await waitForMeter(services, readWaitMs, reply, (request.params as { client_id?: string }).client_id);
    }
  });
  // Still `ok` while Redis is down: the service serves (the limit falls back per process).
  const limitStore = opts.rateLimitStore;
  app.get('/healthz', { schema: { summary: 'Liveness check', response: { 200: HealthResponse } } },
    async () => (limitStore?.health ? { status: 'ok' as const, rate_limit: limitStore.health() } : { status: 'ok' as const }));
  await app.register(partnerRoutes(services));
  await app.register(tenantRoutes(services));
  await app.register(authRoutes(services));
  await app.register(channelKeyRoutes(services));
  await app.register(balanceRoutes(services));
  await app.register(usageRoutes(services));
  await app.register(accountRoutes(services));
  await app.register(rateCardRoutes(services));
  await app.register(messagingProviderRoutes(services));
  await app.register(webhookRoutes(services, { appSecrets: opts.appSecrets, verifyToken: opts.verifyToken, bodyLimit: opts.webhookBodyLimit }));
  return app;
}

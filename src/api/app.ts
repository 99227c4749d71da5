/**
 * Builds the HTTP application: error handling first, then the route groups. Tests build the
 * same app and call it with `inject()` or over a listening socket.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Services } from '../services.ts';
import { requireAdmin, requirePartner } from './auth.ts';
import { registerErrorHandling } from './error-handler.ts';
import { FORMATS } from './formats.ts';
import { accountRoutes } from './routes/accounts.ts';
import { balanceRoutes } from './routes/balance.ts';
import { rateCardRoutes } from './routes/rate-cards.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { webhookRoutes } from './routes/webhooks.ts';

export interface AppOptions {
  adminToken: string;
  appSecrets: string[];
  verifyToken: string | null;
  webhookBodyLimit: number;
  logLevel?: string;
}

export async function buildApp(services: Services, opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: opts.logLevel ?? 'silent', redact: ['req.headers["x-api-key"]', 'req.headers.authorization'] },
    // One log line per webhook would drown the log; errors are still logged with their request.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { allErrors: true, coerceTypes: true, formats: FORMATS } },
    bodyLimit: 1024 * 1024,
  });
  registerErrorHandling(app);
  // Who is calling is settled before the request is validated: a caller without credentials
  // learns nothing about what a valid request looks like.
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url ?? '';
    if (route.startsWith('/admin/')) requireAdmin(request, opts.adminToken);
    else if (route.startsWith('/api/v2/partners/:partner_id')) {
      await requirePartner(request, (request.params as { partner_id: string }).partner_id, services.tenants);
    }
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.register(tenantRoutes(services));
  await app.register(balanceRoutes(services));
  await app.register(accountRoutes(services));
  await app.register(rateCardRoutes(services));
  await app.register(webhookRoutes(services, { appSecrets: opts.appSecrets, verifyToken: opts.verifyToken, bodyLimit: opts.webhookBodyLimit }));
  return app;
}

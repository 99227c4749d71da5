/**
 * Builds the HTTP application: error handling first, then the route groups. Tests build the
 * same app and call it with `inject()` or over a listening socket.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Services } from '../services.ts';
import { registerErrorHandling } from './error-handler.ts';
import { balanceRoutes } from './routes/balance.ts';
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
    disableRequestLogging: true,
    ajv: { customOptions: { allErrors: true, coerceTypes: true } },
    bodyLimit: 1024 * 1024,
  });
  registerErrorHandling(app);
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.register(tenantRoutes(services, opts.adminToken));
  await app.register(balanceRoutes(services));
  await app.register(webhookRoutes(services, { appSecrets: opts.appSecrets, verifyToken: opts.verifyToken, bodyLimit: opts.webhookBodyLimit }));
  return app;
}

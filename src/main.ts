/**
 * `npm start`: the service on the configured store, with the demo data set on first start.
 */
import { buildApp } from './api/app.ts';
import { MemoryRateLimitStore } from './api/rate-limit.ts';
import { RedisRateLimitStore } from './api/redis-rate-limit.ts';
import { loadConfig } from './config.ts';
import { demoInfo, loadDemo, type DemoInfo } from './demo/demo.ts';
import { createServices } from './services.ts';
import { closeHttp, installShutdown, shutdownTimeoutMs } from './shutdown.ts';
import { countPartners } from './store/tenants-store.ts';

const config = loadConfig();
// Read before anything starts, so a bad value stops the service at once.
const shutdownTimeout = shutdownTimeoutMs();
const services = await createServices({ databaseUrl: config.databaseUrl, projector: config.projector, auth: { accessTokenTtl: config.tokenTtl, refreshTokenTtl: config.refreshTokenTtl } });
let demo: DemoInfo | undefined;
if (config.demo) {
  if ((await countPartners(services.store.db)) === 0) {
    console.log('Empty store: loading the demo data set…');
    demo = await loadDemo(services);
    console.log(`Demo loaded: ${demo.statuses} webhook statuses ingested.`);
  } else {
    demo = await demoInfo(services);
  }
}
// The balance rate limit is shared through Redis when REDIS_URL is set (and the limit is on),
// otherwise counted in this process. Its down/up lines go to the app's log once the app exists.
let redisLog: { warn(msg: string): void; info(msg: string): void } = console;
const redisStore = config.redisUrl && config.balanceRateLimit
  ? new RedisRateLimitStore({ url: config.redisUrl, prefix: config.redisPrefix, log: { warn: (m) => redisLog.warn(m), info: (m) => redisLog.info(m) } })
  : undefined;
const app = await buildApp(services, {
  adminToken: config.adminToken,
  appSecrets: config.appSecrets,
  verifyToken: config.verifyToken,
  webhookBodyLimit: config.webhookBodyLimit,
  logLevel: config.logLevel,
  balanceRateLimit: config.balanceRateLimit,
  readWaitMs: config.readWaitMs,
  rateLimitStore: redisStore ?? new MemoryRateLimitStore(),
});
redisLog = app.log;
await app.listen({ port: config.port, host: config.host });

const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.port;
const base = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
const lines = [
  `wabameter listening on ${base} (store: ${services.store.dialect} ${services.store.location})`,
  config.adminTokenGenerated ? `Admin token (generated for this run; set WABAMETER_ADMIN_TOKEN to keep one): ${config.adminToken}` : 'Admin token: from WABAMETER_ADMIN_TOKEN',
  `Webhook URL for Meta: ${base}/webhooks/whatsapp${config.appSecrets.length ? '' : '  (WHATSAPP_APP_SECRET unset: signatures are not checked)'}`,
];
if (demo) {
  const [c1, c2] = demo.clients;
  lines.push(
    '',
    `Demo partner ${demo.partnerId}, API key: ${demo.apiKey}`,
    'Try:',
    `  curl -H 'X-API-Key: ${demo.apiKey}' '${base}/api/v2/partners/${demo.partnerId}/clients'`,
    `  curl -H 'X-API-Key: ${demo.apiKey}' '${base}/api/v2/partners/${demo.partnerId}/clients/${c1.id}/info/balance?granularity=month'`,
    `  curl -H 'X-API-Key: ${demo.apiKey}' '${base}/api/v2/partners/${demo.partnerId}/clients/${c1.id}/channels/${c1.channels[0]}/info/balance?granularity=day&start_date=${Math.floor(Date.now() / 1000) - 7 * 86400}'`,
    `  curl -H 'X-API-Key: ${demo.apiKey}' '${base}/api/v2/partners/${demo.partnerId}/clients/${c2.id}/info/balance?start_date=1677628800&end_date=1680307199'   (CBP v1, March 2023)`,
  );
}
console.log(lines.join('\n'));

installShutdown({
  timeoutMs: shutdownTimeout,
  steps: [
    // Stop accepting, let in-flight requests finish (later ones get 503), then close Redis and the store.
    { name: 'http server', run: () => closeHttp(app) },
    ...(redisStore ? [{ name: 'redis', run: () => redisStore.close() }] : []),
    { name: 'store', run: () => services.close() },
  ],
});

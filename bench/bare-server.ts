/**
 * The baseline: a bare Fastify server with one webhook route that only parses the JSON body
 * (Fastify's default JSON parser) and answers 200, and a `/healthz`. Same Fastify version, same
 * body limit as the service's webhook route, logging off. Prints `listening on http://…`.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });

app.post('/webhooks/whatsapp', async (request) => {
  const body = request.body as { entry?: unknown[] } | null;
  // Touch the parsed value so the parse cannot be skipped; answer about as much as the service does.
  return { success: true, entries: Array.isArray(body?.entry) ? body.entry.length : 0 };
});
app.get('/healthz', async () => ({ status: 'ok' }));

await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
console.log(`bare fastify listening on http://${process.env.HOST ?? '127.0.0.1'}:${port}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await app.close();
    process.exit(0);
  });
}

/**
 * Scaffolding of the client's tests: the real app listening on a free port with a partner, and a
 * simulated clock shared by the server (its `nowMs`) and the client (its `clock`).
 */
import { ADMIN_TOKEN, startApp, type StartAppOptions, type TestApp, type TestDialect } from '../helpers.ts';
import { VirtualClock, WabameterClient, type FetchLike } from '../../client/src/index.ts';

export interface Served {
  t: TestApp;
  baseUrl: string;
  partner: { id: string; name: string; api_key: string };
  close(): Promise<void>;
}

/**
 * The real app on 127.0.0.1:<free port> (SQLite unless told; `postgres` uses a fresh schema of
 * the local PostgreSQL, test/helpers.ts), and one partner created with the admin token.
 */
export async function serve(opts: StartAppOptions = {}, dialect: TestDialect = 'sqlite'): Promise<Served> {
  const t = await startApp(dialect, opts);
  const baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const partner = await admin(baseUrl, 'POST', '/admin/partners', { name: 'Client tests' }) as Served['partner'];
  return { t, baseUrl, partner, close: () => t.close() };
}

/** An admin call (partners, partner users); throws unless 2xx. */
export async function admin(baseUrl: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** A client and a channel of the partner, created through the client. */
export async function tenant(s: Served) {
  const api = new WabameterClient({ baseUrl: s.baseUrl, partnerId: s.partner.id, apiKey: s.partner.api_key }, { rateLimit: false });
  const client = await api.createClient({ name: 'Tenant', currency: 'USD', country: 'DE', payment_mode: 'direct' });
  const channel = await api.createChannel(client.id, { phone_number: '+4930123', phone_number_id: `pn-${client.id}`, waba_id: `waba-${client.id}`, app_id: '214' });
  return { client, channel };
}

/**
 * Simulated time for a client talking to a real server: like VirtualClock, but a sleep moves time
 * only once every request in flight has been answered, as if the network took no time at all.
 * (A plain virtual clock would jump 30 s while a request is still on its way, and the server
 * would see it arrive 30 s "late".) Pass `clock.fetch` as the client's `fetch`.
 */
export class SimulatedClock extends VirtualClock {
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  readonly fetch: FetchLike = async (url, init) => {
    this.inFlight++;
    try {
      return await fetch(url, init);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  };

  protected override async settle(): Promise<void> {
    // First let whoever was just handed a turn (a limiter slot) start its request.
    await super.settle();
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}

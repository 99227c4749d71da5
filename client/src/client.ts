/**
 * `WabameterClient`: one typed method per Partner API operation, over Node's global fetch.
 *
 * Every request goes through one loop (`send`) that
 * - authenticates: `X-API-Key`, or a Bearer token from `POST /api/v2/token` that is fetched on
 *   first use, renewed shortly before it expires, and renewed once (refresh, else login) when the
 *   server answers 401, after which the request is sent again;
 * - waits its turn in the limiter for the balance endpoints (5 starts per 30 s per client id by
 *   default), so a caller never thinks about the server's rate limit;
 * - on 429 waits `Retry-After` (and holds the client id's queue as long), then sends again;
 * - on 5xx and on requests that got no answer, backs off exponentially with jitter, a bounded
 *   number of times (POST only when asked, or for the token endpoint);
 * - never retries any other 4xx, and turns every error into a `WabameterApiError`.
 */
import { systemClock, type Clock } from './clock.js';
import { dateWindows, toUnixSeconds, type DateWindow } from './date-windows.js';
import { WabameterApiError, WabameterNetworkError } from './errors.js';
import { SlidingWindowLimiter, type RateLimitOptions } from './limiter.js';
import { backoffDelay, parseRetryAfter, resolveRetry, type ResolvedRetryOptions, type RetryOptions } from './retry.js';
import type {
  ApiKeyList, BalanceQuery, BalanceResponse, Channel, ChannelApiKeyList, ChannelList, ChargesQuery, ChargesResponse,
  Client, ClientList, ClientPatch, CreatedApiKey, CreatedChannel, CreatedChannelApiKey, DateInput, Granularity, ListQuery,
  NewApiKey, NewChannel, NewChannelApiKey, NewClient, Partner, PartnerPatch, RevokedChannelApiKeys, TiersQuery,
  TiersResponse, TokenResponse, UsageQuery, UsageResponse, UsageRow, WebhookUrl,
} from './types.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/**
 * Every operation the client calls, as method and path template. The methods below are built on
 * this table, and a test compares it with the server's `/openapi.json`.
 */
export const OPERATIONS = {
  token: { method: 'POST', path: '/api/v2/token' },
  getPartner: { method: 'GET', path: '/api/v2/partners/{partner_id}' },
  updatePartner: { method: 'PATCH', path: '/api/v2/partners/{partner_id}' },
  getWebhookUrl: { method: 'GET', path: '/api/v2/partners/{partner_id}/webhook_url' },
  setWebhookUrl: { method: 'POST', path: '/api/v2/partners/{partner_id}/webhook_url' },
  createApiKey: { method: 'POST', path: '/api/v2/partners/{partner_id}/api_keys' },
  listApiKeys: { method: 'GET', path: '/api/v2/partners/{partner_id}/api_keys' },
  revokeApiKey: { method: 'DELETE', path: '/api/v2/partners/{partner_id}/api_keys/{key_id}' },
  listClients: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients' },
  createClient: { method: 'POST', path: '/api/v2/partners/{partner_id}/clients' },
  getClient: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients/{client_id}' },
  updateClient: { method: 'PATCH', path: '/api/v2/partners/{partner_id}/clients/{client_id}' },
  listPartnerChannels: { method: 'GET', path: '/api/v2/partners/{partner_id}/channels' },
  listChannels: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients/{client_id}/channels' },
  createChannel: { method: 'POST', path: '/api/v2/partners/{partner_id}/clients/{client_id}/channels' },
  getChannel: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients/{client_id}/channels/{channel_id}' },
  createChannelApiKey: { method: 'POST', path: '/api/v2/partners/{partner_id}/channels/{channel_id}/api_keys' },
  listChannelApiKeys: { method: 'GET', path: '/api/v2/partners/{partner_id}/channels/{channel_id}/api_keys' },
  revokeChannelApiKeys: { method: 'DELETE', path: '/api/v2/partners/{partner_id}/channels/{channel_id}/api_keys' },
  revokeChannelApiKey: { method: 'DELETE', path: '/api/v2/partners/{partner_id}/channels/{channel_id}/api_keys/{channel_key_id}' },
  balance: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients/{client_id}/info/balance' },
  channelBalance: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients/{client_id}/channels/{channel_id}/info/balance' },
  charges: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients/{client_id}/info/charges' },
  channelCharges: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients/{client_id}/channels/{channel_id}/info/charges' },
  tiers: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients/{client_id}/info/tiers' },
  usage: { method: 'GET', path: '/api/v2/partners/{partner_id}/clients/{client_id}/channels/{channel_id}/info/usage' },
} as const satisfies Record<string, { method: HttpMethod; path: string }>;

export type OperationName = keyof typeof OPERATIONS;

/** Operations the limiter holds by default: the server's 5 / 30 s / client limit is on these. */
export const RATE_LIMITED_OPERATIONS: readonly OperationName[] = ['balance', 'channelBalance'];

export interface ApiKeyCredentials {
  /** e.g. `https://meter.example.com` (a path prefix is kept: `https://x.example/meter`). */
  baseUrl: string;
  partnerId: string;
  /**
   * Sent as `X-API-Key`: a partner API key (`wbm_…`), or a channel API key (`wbc_…`, from
   * `createChannelApiKey`). A channel key reads only its own channel: `getChannel`,
   * `channelBalance`, `channelCharges` and `usage` with its client and channel ids; every other
   * call is answered 403 and thrown as a `WabameterApiError` (never retried).
   */
  apiKey: string;
}

export interface PasswordCredentials {
  baseUrl: string;
  partnerId: string;
  /** A partner user (created by the operator); logs in at `POST /api/v2/token`. */
  username: string;
  password: string;
}

export type WabameterCredentials = ApiKeyCredentials | PasswordCredentials;

/** The part of a fetch Response the client reads. */
export interface FetchResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<FetchResponseLike>;

export interface RetryEvent {
  operation: OperationName;
  reason: 'rate_limited' | 'server_error' | 'network_error' | 'unauthorized';
  /** The HTTP status, absent for a network error. */
  status?: number;
  /** Retries of this request so far, this one included. */
  retry: number;
  /** How long the client waits before sending again (ms; 0 for a re-login). */
  delayMs: number;
}

export interface WabameterClientOptions {
  /**
   * The limiter for the balance endpoints: `{ limit, windowMs, marginMs, operations }`, or
   * `false` to send without waiting. Default 5 per 30 s (+250 ms) per client id.
   */
  rateLimit?: (RateLimitOptions & { operations?: readonly OperationName[] }) | false;
  /** A limiter shared by several clients (one process, one partner, several client objects). */
  limiter?: SlidingWindowLimiter;
  retry?: RetryOptions;
  /** Per attempt, in ms (default 30 000). A timed-out attempt counts as a network error. */
  timeoutMs?: number;
  /** Renew a token this long before it expires (ms, default 30 000). */
  tokenRenewBeforeMs?: number;
  clock?: Clock;
  /** Jitter source, [0, 1) (default Math.random). */
  random?: () => number;
  fetch?: FetchLike;
  /** Extra headers on every request (never used for credentials). */
  headers?: Record<string, string>;
  /** Called before each retry (logging, metrics). */
  onRetry?: (event: RetryEvent) => void;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface BalanceRangeQuery {
  start: DateInput | string;
  end: DateInput | string;
  /** Default `month`. */
  granularity?: Granularity;
  /** Longest window, in days (see `dateWindows`). */
  maxDays?: number;
  /** One channel's balance instead of the whole client's. */
  channelId?: string;
  app_ids?: string | string[];
  /** Called after each window's answer (progress). */
  onWindow?: (window: DateWindow, response: BalanceResponse, index: number, count: number) => void;
}

export interface BalanceRangeResponse extends BalanceResponse {
  usage: UsageRow[];
  /** The windows requested, oldest first. */
  windows: DateWindow[];
}

interface TokenState {
  access: string;
  refresh: string | undefined;
  /** ms (client clock); the token is renewed before this. */
  expiresAt: number;
  generation: number;
}

interface SendOptions {
  params?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Sent without credentials (the token endpoint). */
  anonymous?: boolean;
  signal?: AbortSignal | undefined;
}

const isPassword = (c: WabameterCredentials): c is PasswordCredentials => 'username' in c && c.username != null;

export class WabameterClient {
  readonly baseUrl: string;
  readonly partnerId: string;
  /** The limiter in use (undefined when disabled). */
  readonly limiter: SlidingWindowLimiter | undefined;
  private readonly credentials: WabameterCredentials;
  private readonly limited: ReadonlySet<OperationName>;
  private readonly retry: ResolvedRetryOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;
  private readonly renewBeforeMs: number;
  private readonly extraHeaders: Record<string, string>;
  private readonly onRetry: ((e: RetryEvent) => void) | undefined;
  private token: TokenState | undefined;
  private tokenInFlight: Promise<TokenState> | undefined;
  private generation = 0;

  constructor(credentials: WabameterCredentials, options: WabameterClientOptions = {}) {
    if (!credentials || typeof credentials.baseUrl !== 'string' || credentials.baseUrl === '') throw new TypeError('baseUrl is required');
    if (typeof credentials.partnerId !== 'string' || credentials.partnerId === '') throw new TypeError('partnerId is required');
    if (isPassword(credentials)) {
      if (typeof credentials.password !== 'string') throw new TypeError('password is required with username');
    } else if (typeof (credentials as ApiKeyCredentials).apiKey !== 'string' || (credentials as ApiKeyCredentials).apiKey === '') {
      throw new TypeError('apiKey, or username and password, are required');
    }
    const url = new URL(credentials.baseUrl); // throws on a malformed URL
    this.baseUrl = url.href.replace(/\/+$/, '');
    this.partnerId = credentials.partnerId;
    this.credentials = credentials;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.retry = resolveRetry(options.retry);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.renewBeforeMs = options.tokenRenewBeforeMs ?? 30_000;
    this.extraHeaders = { ...options.headers };
    this.onRetry = options.onRetry;
    if (!options.fetch && typeof globalThis.fetch !== 'function') throw new TypeError('no fetch: run on Node ≥ 20 or pass options.fetch');
    // Looked up per call (not bound at construction), so a fetch installed later is used.
    this.fetchImpl = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
    if (options.rateLimit === false) {
      this.limiter = undefined;
      this.limited = new Set();
    } else {
      this.limiter = options.limiter ?? new SlidingWindowLimiter(options.rateLimit ?? {}, this.clock);
      this.limited = new Set(options.rateLimit?.operations ?? RATE_LIMITED_OPERATIONS);
    }
  }

  /** `'apiKey'` or `'token'` (username/password). */
  get authMode(): 'apiKey' | 'token' {
    return isPassword(this.credentials) ? 'token' : 'apiKey';
  }

  // -------------------------------------------------------------------------------------------
  // Token (legacy auth)
  // -------------------------------------------------------------------------------------------

  /** Logs in with the configured username and password; the client uses the token from now on. */
  async login(options: RequestOptions = {}): Promise<TokenResponse> {
    const c = this.credentials;
    if (!isPassword(c)) throw new TypeError('login() needs a client built with username and password');
    const res = await this.send<TokenResponse>('token', { anonymous: true, body: { username: c.username, password: c.password }, signal: options.signal });
    this.storeToken(res);
    return res;
  }

  /** Exchanges the refresh token (the held one unless given) for a new access token. */
  async refresh(refreshToken?: string, options: RequestOptions = {}): Promise<TokenResponse> {
    const token = refreshToken ?? this.token?.refresh;
    if (!token) throw new TypeError('no refresh token: log in first');
    const res = await this.send<TokenResponse>('token', { anonymous: true, body: { refresh_token: token }, signal: options.signal });
    if (isPassword(this.credentials)) this.storeToken(res);
    return res;
  }

  /** Forgets the held token (the next request logs in again). */
  logout(): void {
    this.token = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // The partner's own record
  // -------------------------------------------------------------------------------------------

  /** The partner's record: name, timestamps and URLs. */
  getPartner(options: RequestOptions = {}): Promise<Partner> {
    return this.send('getPartner', { signal: options.signal });
  }

  /**
   * Changes the partner's name or URLs (at least one field): `null` or an absent field keeps a
   * value, `""` clears a URL. Answers the whole record.
   */
  updatePartner(patch: PartnerPatch, options: RequestOptions = {}): Promise<Partner> {
    return this.send('updatePartner', { body: patch, signal: options.signal });
  }

  /** Where the partner receives notifications (null = none). */
  getWebhookUrl(options: RequestOptions = {}): Promise<WebhookUrl> {
    return this.send('getWebhookUrl', { signal: options.signal });
  }

  /** Sets the webhook URL (`""` removes it); answers the whole partner record, as 360dialog does. */
  setWebhookUrl(webhookUrl: string, options: RequestOptions = {}): Promise<Partner> {
    return this.send('setWebhookUrl', { body: { webhook_url: webhookUrl }, signal: options.signal });
  }

  // -------------------------------------------------------------------------------------------
  // API keys
  // -------------------------------------------------------------------------------------------

  /** A new named key for this partner; `api_key` is shown in this answer only. */
  createApiKey(input: NewApiKey, options: RequestOptions = {}): Promise<CreatedApiKey> {
    return this.send('createApiKey', { body: input, signal: options.signal });
  }

  listApiKeys(options: RequestOptions = {}): Promise<ApiKeyList> {
    return this.send('listApiKeys', { signal: options.signal });
  }

  /** Revokes a key (204); requests with it are refused with 401 from then on. */
  revokeApiKey(keyId: string, options: RequestOptions = {}): Promise<void> {
    return this.send('revokeApiKey', { params: { key_id: keyId }, signal: options.signal });
  }

  /**
   * A key that reads only this channel's usage (not a messaging key); `api_key` is shown in this
   * answer only. Pass it as `apiKey` to a new `WabameterClient`. At most 100 active keys per
   * channel (409 beyond).
   */
  createChannelApiKey(channelId: string, input?: NewChannelApiKey, options: RequestOptions = {}): Promise<CreatedChannelApiKey> {
    return this.send('createChannelApiKey', { params: { channel_id: channelId }, body: input, signal: options.signal });
  }

  /** The channel's keys, revoked ones too, oldest first; never a secret. */
  listChannelApiKeys(channelId: string, options: RequestOptions = {}): Promise<ChannelApiKeyList> {
    return this.send('listChannelApiKeys', { params: { channel_id: channelId }, signal: options.signal });
  }

  /** Revokes every active key of the channel; `revoked` counts the keys this call revoked. */
  revokeChannelApiKeys(channelId: string, options: RequestOptions = {}): Promise<RevokedChannelApiKeys> {
    return this.send('revokeChannelApiKeys', { params: { channel_id: channelId }, signal: options.signal });
  }

  /** Revokes one key of the channel: `{revoked: 1}` (0 when it was revoked before; 404 for an unknown key). */
  revokeChannelApiKey(channelId: string, keyId: string, options: RequestOptions = {}): Promise<RevokedChannelApiKeys> {
    return this.send('revokeChannelApiKey', { params: { channel_id: channelId, channel_key_id: keyId }, signal: options.signal });
  }

  // -------------------------------------------------------------------------------------------
  // Clients and channels
  // -------------------------------------------------------------------------------------------

  listClients(query: ListQuery = {}, options: RequestOptions = {}): Promise<ClientList> {
    return this.send('listClients', { query: listQuery(query), signal: options.signal });
  }

  getClient(clientId: string, options: RequestOptions = {}): Promise<Client> {
    return this.send('getClient', { params: { client_id: clientId }, signal: options.signal });
  }

  createClient(input: NewClient, options: RequestOptions = {}): Promise<Client> {
    return this.send('createClient', { body: input, signal: options.signal });
  }

  updateClient(clientId: string, patch: ClientPatch, options: RequestOptions = {}): Promise<Client> {
    return this.send('updateClient', { params: { client_id: clientId }, body: patch, signal: options.signal });
  }

  /** One client's channels. */
  listChannels(clientId: string, query: ListQuery = {}, options: RequestOptions = {}): Promise<ChannelList> {
    return this.send('listChannels', { params: { client_id: clientId }, query: listQuery(query), signal: options.signal });
  }

  /** Every channel of the partner, across clients. */
  listPartnerChannels(query: ListQuery = {}, options: RequestOptions = {}): Promise<ChannelList> {
    return this.send('listPartnerChannels', { query: listQuery(query), signal: options.signal });
  }

  getChannel(clientId: string, channelId: string, options: RequestOptions = {}): Promise<Channel> {
    return this.send('getChannel', { params: { client_id: clientId, channel_id: channelId }, signal: options.signal });
  }

  createChannel(clientId: string, input: NewChannel, options: RequestOptions = {}): Promise<CreatedChannel> {
    return this.send('createChannel', { params: { client_id: clientId }, body: input, signal: options.signal });
  }

  /** Every client, page after page (`limit` per request, default 100). */
  async *allClients(query: Omit<ListQuery, 'offset'> = {}, options: RequestOptions = {}): AsyncGenerator<Client> {
    for (let offset = 0; ;) {
      const page = await this.listClients({ ...query, offset }, options);
      yield* page.clients;
      offset += page.clients.length;
      if (page.clients.length === 0 || offset >= page.total) return;
    }
  }

  /** Every channel of the partner, page after page. */
  async *allPartnerChannels(query: Omit<ListQuery, 'offset'> = {}, options: RequestOptions = {}): AsyncGenerator<Channel> {
    for (let offset = 0; ;) {
      const page = await this.listPartnerChannels({ ...query, offset }, options);
      yield* page.partner_channels;
      offset += page.partner_channels.length;
      if (page.partner_channels.length === 0 || offset >= page.total) return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Usage
  // -------------------------------------------------------------------------------------------

  /** A client's usage buckets and prices (rate-limited per client: the limiter queues the call). */
  balance(clientId: string, query: BalanceQuery = {}, options: RequestOptions = {}): Promise<BalanceResponse> {
    return this.send('balance', { params: { client_id: clientId }, query: balanceQuery(query), signal: options.signal });
  }

  /** One channel's usage buckets and prices (counted against its client's limit). */
  channelBalance(clientId: string, channelId: string, query: BalanceQuery = {}, options: RequestOptions = {}): Promise<BalanceResponse> {
    return this.send('channelBalance', { params: { client_id: clientId, channel_id: channelId }, query: balanceQuery(query), signal: options.signal });
  }

  /** The priced groups behind a client's estimate. */
  charges(clientId: string, query: ChargesQuery = {}, options: RequestOptions = {}): Promise<ChargesResponse> {
    return this.send('charges', { params: { client_id: clientId }, query: dates(query), signal: options.signal });
  }

  /** The priced groups behind one channel's estimate. */
  channelCharges(clientId: string, channelId: string, query: ChargesQuery = {}, options: RequestOptions = {}): Promise<ChargesResponse> {
    return this.send('channelCharges', { params: { client_id: clientId, channel_id: channelId }, query: dates(query), signal: options.signal });
  }

  /** Meta's announced volume tiers next to the meter's. */
  tiers(clientId: string, query: TiersQuery = {}, options: RequestOptions = {}): Promise<TiersResponse> {
    return this.send('tiers', { params: { client_id: clientId }, query: { month: query.month }, signal: options.signal });
  }

  /** Per-message analytics of one channel, shaped like Meta's `pricing_analytics`. */
  usage(clientId: string, channelId: string, query: UsageQuery = {}, options: RequestOptions = {}): Promise<UsageResponse> {
    return this.send('usage', {
      params: { client_id: clientId, channel_id: channelId },
      query: { ...dates(query), granularity: query.granularity, country_codes: list(query.country_codes) },
      signal: options.signal,
    });
  }

  /**
   * The balance over any range: walked into `dateWindows`, each window fetched through the
   * limiter, the usage rows concatenated (oldest first). Top-level fields (balance, prices) are
   * the last window's.
   */
  async balanceRange(clientId: string, query: BalanceRangeQuery, options: RequestOptions = {}): Promise<BalanceRangeResponse> {
    const granularity = query.granularity ?? 'month';
    const windows = dateWindows(query.start, query.end, { granularity, ...(query.maxDays != null ? { maxDays: query.maxDays } : {}) });
    const rows = new Map<string, UsageRow>();
    let last: BalanceResponse | undefined;
    for (const [i, w] of windows.entries()) {
      const q: BalanceQuery = { start_date: w.start_date, end_date: w.end_date, granularity, ...(query.app_ids != null ? { app_ids: query.app_ids } : {}) };
      const res = query.channelId != null ? await this.channelBalance(clientId, query.channelId, q, options) : await this.balance(clientId, q, options);
      for (const row of res.usage ?? []) rows.set(row.period_date, row);
      query.onWindow?.(w, res, i, windows.length);
      last = res;
    }
    const usage = [...rows.values()].sort((a, b) => Date.parse(a.period_date) - Date.parse(b.period_date));
    return { ...last!, granularity, usage, windows };
  }

  // -------------------------------------------------------------------------------------------
  // The request loop
  // -------------------------------------------------------------------------------------------

  private async send<T>(operation: OperationName, o: SendOptions = {}): Promise<T> {
    const op = OPERATIONS[operation];
    const path = fillPath(op.path, { partner_id: this.partnerId, ...o.params }) + queryString(o.query);
    const url = this.baseUrl + path;
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const limitKey = this.limiter && this.limited.has(operation) && o.params?.client_id != null ? `${this.partnerId}/${o.params.client_id}` : undefined;
    const mayRetryFailure = op.method !== 'POST' || operation === 'token' || this.retry.retryNonIdempotent;
    let failures = 0; // 5xx and network errors so far
    let rateLimited = 0; // 429s so far
    let reauthenticated = false;

    for (;;) {
      // Credentials first (a login can take a while), then the limiter's turn: the turn is
      // stamped when taken, so it must be taken right before the request leaves.
      let token = !o.anonymous && isPassword(this.credentials) ? await this.currentToken() : undefined;
      if (limitKey) {
        await this.limiter!.acquire(limitKey, o.signal);
        if (token && this.clock.now() >= token.expiresAt) token = await this.currentToken(); // went stale while queued
      }
      const headers: Record<string, string> = { accept: 'application/json', ...this.extraHeaders };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (token) headers.authorization = `Bearer ${token.access}`;
      else if (!o.anonymous && !isPassword(this.credentials)) headers['x-api-key'] = this.credentials.apiKey;

      const timeout = AbortSignal.timeout(this.timeoutMs);
      const signal = o.signal ? anySignal(o.signal, timeout) : timeout;
      let status: number;
      let text: string;
      let res: FetchResponseLike;
      try {
        res = await this.fetchImpl(url, { method: op.method, headers, ...(body !== undefined ? { body } : {}), signal });
        status = res.status;
        text = await res.text();
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        failures++;
        if (!mayRetryFailure || failures >= this.retry.maxAttempts) throw new WabameterNetworkError(op.method, path, failures, err);
        const delayMs = backoffDelay(failures - 1, this.retry, this.random);
        this.onRetry?.({ operation, reason: 'network_error', retry: failures, delayMs });
        await this.clock.sleep(delayMs, o.signal);
        continue;
      }

      if (status >= 200 && status < 300) return parseBody<T>(text, status, op.method, path);

      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), this.clock.now());
      const error = () => WabameterApiError.fromResponse(status, text, { method: op.method, path, ...(retryAfterMs != null ? { retryAfterMs } : {}) });

      if (status === 401 && token && !reauthenticated) {
        reauthenticated = true;
        this.onRetry?.({ operation, reason: 'unauthorized', status, retry: 1, delayMs: 0 });
        await this.renewAfter401(token);
        continue;
      }
      if (status === 429) {
        rateLimited++;
        const delayMs = retryAfterMs ?? backoffDelay(rateLimited - 1, this.retry, this.random);
        if (rateLimited > this.retry.max429Retries || delayMs > this.retry.maxRetryAfterMs) throw error();
        this.onRetry?.({ operation, reason: 'rate_limited', status, retry: rateLimited, delayMs });
        if (limitKey) this.limiter!.blockUntil(limitKey, this.clock.now() + delayMs); // the next acquire waits
        else await this.clock.sleep(delayMs, o.signal);
        continue;
      }
      // 501 (an operation this server does not serve) is a permanent answer: never retried.
      if (status >= 500 && status !== 501 && mayRetryFailure) {
        failures++;
        const delayMs = retryAfterMs ?? backoffDelay(failures - 1, this.retry, this.random);
        if (failures >= this.retry.maxAttempts || delayMs > this.retry.maxRetryAfterMs) throw error();
        this.onRetry?.({ operation, reason: 'server_error', status, retry: failures, delayMs });
        await this.clock.sleep(delayMs, o.signal);
        continue;
      }
      throw error();
    }
  }

  private storeToken(res: TokenResponse): TokenState {
    if (typeof res?.access_token !== 'string' || res.access_token === '') {
      throw new WabameterApiError({ status: 200, code: 'invalid_token_response', developerMessage: 'The token endpoint answered without access_token', method: 'POST', path: OPERATIONS.token.path, body: res });
    }
    const lifetimeMs = typeof res.expires_in === 'number' && res.expires_in > 0 ? res.expires_in * 1000 : 3_600_000;
    // A token shorter-lived than the renewal margin is used for half its life rather than never.
    const renewBefore = Math.min(this.renewBeforeMs, lifetimeMs / 2);
    this.token = {
      access: res.access_token,
      refresh: typeof res.refresh_token === 'string' && res.refresh_token !== '' ? res.refresh_token : this.token?.refresh,
      expiresAt: this.clock.now() + lifetimeMs - renewBefore,
      generation: ++this.generation,
    };
    return this.token;
  }

  /** The token to send: the held one while fresh, else a renewed one (one renewal at a time). */
  private currentToken(): Promise<TokenState> {
    const t = this.token;
    if (t && this.clock.now() < t.expiresAt) return Promise.resolve(t);
    return this.renew();
  }

  /** After a 401: renew unless another request already did since `used` was handed out. */
  private async renewAfter401(used: TokenState): Promise<void> {
    if (this.token && this.token.generation !== used.generation) return;
    if (this.token) this.token = { ...this.token, expiresAt: -Infinity };
    await this.renew();
  }

  /**
   * Refresh when a refresh token is held, and log in when there is none or it is refused. One
   * renewal at a time, shared by every request that needs it (so it takes no caller's signal:
   * one caller giving up must not fail the others; the attempt is bounded by timeoutMs).
   */
  private renew(): Promise<TokenState> {
    if (!this.tokenInFlight) {
      this.tokenInFlight = (async () => {
        const refresh = this.token?.refresh;
        if (refresh) {
          try {
            await this.refresh(refresh);
            return this.token!;
          } catch (err) {
            if (!(err instanceof WabameterApiError && err.status >= 400 && err.status < 500)) throw err;
            if (this.token) this.token = { ...this.token, refresh: undefined };
          }
        }
        await this.login();
        return this.token!;
      })().finally(() => {
        this.tokenInFlight = undefined;
      });
    }
    return this.tokenInFlight;
  }
}

/** AbortSignal.any (Node ≥ 20.3), with a fallback for the first Node 20 releases. */
function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([a, b]);
  const ac = new AbortController();
  for (const s of [a, b]) {
    if (s.aborted) {
      ac.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => ac.abort(s.reason), { once: true });
  }
  return ac.signal;
}

function parseBody<T>(text: string, status: number, method: string, path: string): T {
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WabameterApiError({ status, code: 'invalid_response', developerMessage: 'The server answered with a body that is not JSON', method, path, body: text });
  }
}

function fillPath(template: string, params: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params[name];
    if (typeof v !== 'string' || v === '') throw new TypeError(`${name} is required`);
    return encodeURIComponent(v);
  });
}

function queryString(q: Record<string, string | number | undefined> | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    // Omitted rather than empty: some servers read `x=` as a value.
    if (v === undefined || v === '') continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

const unix = (d: DateInput | undefined, name: string) => (d == null ? undefined : toUnixSeconds(d, name));

function dates(q: { start_date?: DateInput; end_date?: DateInput }) {
  return { start_date: unix(q.start_date, 'start_date'), end_date: unix(q.end_date, 'end_date') };
}

function list(v: string | string[] | undefined): string | undefined {
  if (v == null) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

function balanceQuery(q: BalanceQuery) {
  return { ...dates(q), granularity: q.granularity, app_ids: list(q.app_ids) };
}

function listQuery(q: ListQuery) {
  return {
    limit: q.limit,
    offset: q.offset,
    sort: list(q.sort),
    filters: q.filters == null ? undefined : typeof q.filters === 'string' ? q.filters : JSON.stringify(q.filters),
  };
}

/**
 * The API's description, generated from the route schemas that validate requests:
 * `GET /openapi.json` (OpenAPI 3.1) and a reference page at `GET /docs` (Swagger UI, served from
 * the npm package's own files: nothing is loaded from a CDN, and the page's Content-Security-Policy
 * forbids any other origin).
 *
 * `registerOpenApi` must run before any route is added: @fastify/swagger collects routes with an
 * `onRoute` hook. Each route's schema (params, querystring, body, headers, response) is documented
 * as declared; this module only adds what a route does not say itself:
 * - `operationId` (OPERATION_IDS, else derived from the method and path), `tags` (by path);
 * - `security`, by the same path rule the app's onRequest hook enforces (app.ts);
 * - the error envelope for `4XX` and `5XX`, which every error goes through (error-handler.ts);
 * - for routes whose body is read raw rather than validated (CSV uploads, signed webhooks), a
 *   documentation-only body given in the route's `config.openapi`.
 * No route is hidden except Swagger UI's own page and assets under /docs.
 */
import { readFileSync } from 'node:fs';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { errorResponse } from './schemas.ts';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Documentation-only additions for a route whose body is read raw instead of validated by a
     * schema: `body` is documented as the request body, with the media types of `consumes`.
     */
    openapi?: { body?: object; consumes?: string[] };
  }
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; description?: string };

/**
 * The serializer every route uses: plain JSON.stringify, whatever the response schema says.
 *
 * Fastify's default compiles response schemas with fast-json-stringify, which silently DROPS
 * every property the schema does not list and COERCES values to the declared type (a price
 * string "0.0118" would become a number, a null quantity 0, an unlisted additive field vanishes).
 * For a billing API that is the wrong failure mode: a schema lagging behind the code would alter
 * money or hide a field instead of failing a test. So response schemas here only document the API
 * and are checked against real responses by test/openapi/; they never change what is sent.
 */
export function serializeWithJsonStringify(app: FastifyInstance): void {
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
}

/** Tags of the document, in display order. */
export const TAGS = [
  { name: 'service', description: 'Health check and this API description' },
  { name: 'partners', description: 'Partners: created by the administrator; each reads and changes its own record' },
  { name: 'auth', description: 'Partner API keys and access tokens' },
  { name: 'clients', description: 'Clients of a partner (360dialog-compatible)' },
  { name: 'channels', description: "Channels (phone numbers) of a client (360dialog-compatible)" },
  { name: 'balance', description: 'Usage buckets and prices in the shape of 360dialog\'s `…/info/balance`' },
  { name: 'usage', description: 'Per-message usage analytics' },
  { name: 'charges', description: 'Why an estimate is what it is: every priced charge group' },
  { name: 'tiers', description: "Volume tiers: Meta's announcements next to the meter's own count" },
  { name: 'rate-cards', description: "Meta's rate cards (admin token)" },
  { name: 'volume-tiers', description: 'Volume-tier rate schedules (admin token)' },
  { name: 'webhooks', description: "Meta's WhatsApp webhooks: verification handshake and status/account_update notifications" },
  { name: 'not-served', description: "A messaging provider's operations (templates, sending, channel cancellation): answered with 501 saying where they belong" },
];

const TAG_RULES: [RegExp, string][] = [
  [/\/info\/balance$/, 'balance'],
  [/\/info\/usage$/, 'usage'],
  [/\/info\/charges$/, 'charges'],
  [/\/info\/tiers$/, 'tiers'],
  [/^\/admin\/rate-cards(\/|$)/, 'rate-cards'],
  [/^\/admin\/volume-tiers(\/|$)/, 'volume-tiers'],
  [/^\/webhooks\//, 'webhooks'],
  [/(^|\/)(token|tokens|api_keys|api-keys|keys|users)(\/|$)/, 'auth'],
  [/\/channels(\/|$)/, 'channels'],
  [/\/clients(\/|$)/, 'clients'],
  [/^\/(admin|api\/v2)\/partners(\/|$)/, 'partners'],
  [/^\/(healthz|openapi\.json)$/, 'service'],
];

export function tagOf(url: string): string {
  for (const [re, tag] of TAG_RULES) if (re.test(url)) return tag;
  return url.split('/').find((s) => s && !s.startsWith(':')) ?? 'other';
}

/**
 * Who may call a route: the rule of the app's onRequest hook (app.ts) — `/admin/*` takes the
 * admin token, `/api/v2/partners/{partner_id}/…` a partner's API key or access token; everything
 * else is public (webhooks are authenticated by their signature, not by a scheme).
 */
export function securityOf(url: string): Record<string, string[]>[] {
  if (url.startsWith('/admin/')) return [{ BearerAuth: [] }];
  if (url.startsWith('/api/v2/partners/:partner_id')) return [{ ApiKeyAuth: [] }, { BearerAuth: [] }];
  return [];
}

const P = '/api/v2/partners/:partner_id';
/** Stable operationIds by `METHOD path`; a route's own `schema.operationId` wins. */
export const OPERATION_IDS: Record<string, string> = {
  'GET /healthz': 'getHealth',
  [`GET ${OPENAPI_PATH}`]: 'getOpenApiDocument',
  'POST /admin/partners': 'createPartner',
  [`GET ${P}`]: 'getPartner',
  [`PATCH ${P}`]: 'updatePartner',
  [`GET ${P}/webhook_url`]: 'getPartnerWebhookUrl',
  [`POST ${P}/webhook_url`]: 'setPartnerWebhookUrl',
  'GET /admin/registration-conflicts': 'listRegistrationConflicts',
  [`POST ${P}/clients`]: 'createClient',
  [`GET ${P}/clients`]: 'listClients',
  [`GET ${P}/clients/:client_id`]: 'getClient',
  [`PATCH ${P}/clients/:client_id`]: 'updateClient',
  [`POST ${P}/clients/:client_id/channels`]: 'createChannel',
  [`GET ${P}/clients/:client_id/channels`]: 'listClientChannels',
  [`GET ${P}/clients/:client_id/channels/:channel_id`]: 'getChannel',
  [`GET ${P}/clients/:client_id/info/balance`]: 'getClientBalance',
  [`GET ${P}/clients/:client_id/channels/:channel_id/info/balance`]: 'getChannelBalance',
  [`GET ${P}/clients/:client_id/info/charges`]: 'getClientCharges',
  [`GET ${P}/clients/:client_id/channels/:channel_id/info/charges`]: 'getChannelCharges',
  [`GET ${P}/clients/:client_id/info/tiers`]: 'getClientTiers',
  [`GET ${P}/clients/:client_id/channels/:channel_id/info/usage`]: 'getChannelUsage',
  [`GET ${P}/channels`]: 'listChannels',
  [`POST ${P}/api_keys`]: 'createApiKey',
  [`GET ${P}/api_keys`]: 'listApiKeys',
  [`DELETE ${P}/api_keys/:key_id`]: 'revokeApiKey',
  'POST /admin/partners/:partner_id/api_keys': 'createApiKeyAsAdmin',
  'POST /admin/partners/:partner_id/users': 'createPartnerUser',
  'GET /admin/partners/:partner_id/users': 'listPartnerUsers',
  'DELETE /admin/partners/:partner_id/users/:user_id': 'revokePartnerUser',
  'POST /api/v2/token': 'requestToken',
  'POST /admin/rate-cards': 'uploadRateCard',
  'GET /admin/rate-cards': 'listRateCards',
  'POST /admin/volume-tiers': 'uploadVolumeTiers',
  'GET /admin/volume-tiers': 'listVolumeTiers',
  'GET /webhooks/whatsapp': 'verifyWebhook',
  'POST /webhooks/whatsapp': 'receiveWebhook',
  'POST /webhooks/whatsapp/:phone_number_id': 'receiveWebhookForPhoneNumber',
};

const VERBS: Record<string, string> = { POST: 'create', PUT: 'replace', PATCH: 'update', DELETE: 'delete' };
const pascal = (s: string) => s.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
const singular = (s: string) => (s.endsWith('ies') ? `${s.slice(0, -3)}y` : s.endsWith('s') && !s.endsWith('ss') ? s.slice(0, -1) : s);

/**
 * A route's operationId: OPERATION_IDS, else derived from the path so that it is stable without
 * being listed (`GET /api/v2/partners/{partner_id}/clients/{client_id}/things` → `listClientThings`,
 * `POST …/things` → `createClientThing`, `DELETE …/things/{thing_id}` → `deleteClientThing`).
 */
export function operationIdOf(method: string, url: string): string {
  const known = OPERATION_IDS[`${method} ${url}`];
  if (known) return known;
  const segments = url.split('/').filter(Boolean);
  const words: string[] = [];
  segments.forEach((s, i) => {
    if (s.startsWith(':') || s === '*') return;
    if (['api', 'v2', 'info'].includes(s) || /^v\d+$/.test(s)) return;
    // The partner is implied by the path of every partner route; keep it when it is the subject.
    if (s === 'partners' && segments[i + 1] === ':partner_id' && i + 2 < segments.length) return;
    const last = i === segments.length - 1;
    words.push(pascal(segments[i + 1]?.startsWith(':') || (last && method !== 'GET') ? singular(s) : s));
  });
  const lastSegment = segments[segments.length - 1] ?? '';
  const verb = VERBS[method] ?? (lastSegment.startsWith(':') || !/[^s]s$/.test(lastSegment) ? method.toLowerCase() : 'list');
  return `${verb}${words.join('') || 'Root'}`;
}

type DocumentedSchema = FastifySchema & Record<string, unknown>;

/** The route's schema as documented: its own declarations plus what this module adds. */
function documented(schema: FastifySchema | undefined, url: string, route: RouteOptions): DocumentedSchema {
  const out: DocumentedSchema = { ...(schema ?? {}) };
  if (out.hide) return out;
  const method = (Array.isArray(route.method) ? route.method[0] : route.method).toUpperCase();
  out.operationId ??= operationIdOf(method, url);
  out.tags ??= [tagOf(url)];
  out.security ??= securityOf(url);
  const extra = route.config?.openapi;
  if (extra?.body && out.body === undefined) {
    out.body = extra.body;
    if (extra.consumes) out.consumes = extra.consumes;
  }
  const response = { ...((out.response as Record<string, unknown> | undefined) ?? {}) };
  if (!('4xx' in response) && !('4XX' in response) && !('default' in response)) response['4xx'] = errorResponse(400, 'Any other client error, in the error envelope');
  if (method === 'GET' && url.startsWith('/api/v2/partners/:partner_id') && !('503' in response)) {
    response['503'] = errorResponse(503, 'The meter has not caught up with every acknowledged webhook (`meter_behind`), or the client\'s usage is being recomputed in the background (`meter_recomputing`), within the read bound (WABAMETER_READ_WAIT_MS): retry after Retry-After seconds');
  }
  if (!('5xx' in response) && !('5XX' in response) && !('default' in response)) response['5xx'] = errorResponse(500);
  out.response = response;
  return out;
}

/** The document served at /openapi.json. */
const OpenApiDocument = Type.Object({
  openapi: Type.String(),
  info: Type.Object({ title: Type.String(), version: Type.String() }, { additionalProperties: true }),
  paths: Type.Object({}, { additionalProperties: true }),
}, { description: 'The OpenAPI 3.1 document of this API (its schema is OpenAPI\'s own)', additionalProperties: true });

// Swagger UI's page loads only its own files: scripts and styles from /docs/static, the document
// from /docs/json (the page has no inline script or style). @fastify/swagger-ui's own
// `staticCSP: true` also allows https: styles and the online validator; this one allows nothing
// but this origin.
export const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
].join('; ');

/** Registers the generator, `GET /openapi.json` and `GET /docs`. Call before adding any route. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'wabameter',
        version: pkg.version,
        description: [
          pkg.description ?? '',
          '',
          'Errors: every non-2xx response carries the Partner API\'s error envelope (`meta.success: false`, `http_code`, `developer_message`, `details`, `error_data`).',
          'Prices are JSON numbers in the currency unit; quantities are integers. Fields may be added to responses at any time: ignore fields you do not know.',
        ].join('\n'),
      },
      servers: [{ url: '/' }],
      tags: TAGS,
      components: {
        securitySchemes: {
          ApiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: "A partner's API key (shown once when created)" },
          BearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'On `/api/v2/partners/…`: a partner access token from `POST /api/v2/token`. On `/admin/…`: the admin token (`WABAMETER_ADMIN_TOKEN`).',
          },
        },
      },
    },
    // OpenAPI 3.1 schemas are JSON Schema 2020-12: `const` is kept as declared.
    convertConstToEnum: false,
    transform: ({ schema, url, route }) => ({ schema: documented(schema, url, route as unknown as RouteOptions), url }),
    transformObject: (documentObject) => {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject;
      const { openapiObject } = documentObject;
      // A tag some new route brought that TAGS does not list yet is still declared.
      const declared = new Set(TAGS.map((t) => t.name));
      const used = new Set<string>();
      for (const item of Object.values(openapiObject.paths ?? {})) {
        for (const op of Object.values(item ?? {})) for (const tag of (op as { tags?: string[] })?.tags ?? []) used.add(tag);
      }
      const tags = [...TAGS.filter((t) => used.has(t.name)), ...[...used].filter((t) => !declared.has(t)).map((name) => ({ name }))];
      return { ...openapiObject, tags };
    },
  });

  app.get(OPENAPI_PATH, { schema: { summary: 'This API as an OpenAPI 3.1 document', response: { 200: OpenApiDocument } } }, async () => app.swagger());

  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { deepLinking: true, docExpansion: 'list', defaultModelsExpandDepth: 0, displayOperationId: true, tryItOutEnabled: false },
    theme: { title: 'wabameter API' },
    staticCSP: DOCS_CSP,
    // The online validator badge would call validator.swagger.io.
    validatorUrl: false,
  });
}

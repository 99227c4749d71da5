/**
 * Schemas shared by several routes. One definition validates requests, types handlers and
 * (later) documents the API.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static, type TSchema } from 'typebox';
import { badRequest } from '../errors.ts';

/** What a partner, client, channel or key id looks like. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** A partner, client, channel or key id in a path. */
export const Id = Type.String({ pattern: ID_PATTERN.source });

export const PartnerParams = Type.Object({ partner_id: Id });
export const ClientParams = Type.Object({ partner_id: Id, client_id: Id });
export const ChannelParams = Type.Object({ partner_id: Id, client_id: Id, channel_id: Id });

/** The Partner API's error envelope, the body of every non-2xx response (src/api/error-handler.ts). */
export const ErrorEnvelope = Type.Object({
  meta: Type.Object({
    success: Type.Literal(false),
    http_code: Type.Integer(),
    developer_message: Type.String(),
    details: Type.Array(Type.String()),
    error_data: Type.Object({
      code: Type.String(),
      message: Type.String(),
      real_message: Type.String(),
      status: Type.Integer(),
    }),
  }),
}, { description: 'Error envelope of the Partner API' });

// ---------------------------------------------------------------------------------------------
// Response building blocks. Response schemas document the API (/openapi.json) and are checked
// against real responses by test/openapi/; they never shape a response (see openapi.ts: the
// serializer is plain JSON.stringify).

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request: every invalid parameter is named in `meta.details`',
  401: 'Credentials missing, unknown, revoked or expired; `meta.developer_message` says what to send',
  403: 'Forbidden',
  404: 'Not found: unknown partner, client or channel, or one that belongs to another partner',
  409: 'Conflict with the current state',
  413: 'Request body too large',
  415: 'Unsupported Content-Type',
  429: 'Too many requests: wait for `Retry-After` seconds',
  501: 'Not served here: the operation belongs to a messaging provider; `meta.developer_message` says which',
  500: 'Internal error (the body carries no internals; the failure was logged)',
  503: 'Temporarily unavailable: retry later',
};

/** The error envelope as the response of one status, with that status's description. */
export function errorResponse(status: number, description = ERROR_DESCRIPTIONS[status] ?? 'Error') {
  return Type.Unsafe<Static<typeof ErrorEnvelope>>({ ...ErrorEnvelope, description });
}

/** `{ 400: envelope, 401: envelope, … }` for a route's `schema.response`. */
export function errorResponses<const S extends readonly number[]>(...statuses: S): { [K in S[number]]: ReturnType<typeof errorResponse> } {
  return Object.fromEntries(statuses.map((s) => [s, errorResponse(s)])) as { [K in S[number]]: ReturnType<typeof errorResponse> };
}

/** An amount of money in the currency's unit: a JSON number carrying the exact decimal (micros). */
export const Money = Type.Number({ minimum: 0, description: 'Amount in the currency unit (a JSON number, exact to 6 decimals)' });
/** A count of units or messages. */
export const Count = Type.Integer({ minimum: 0 });
export const Nullable = <T extends TSchema>(schema: T, options: { description?: string } = {}) => Type.Union([schema, Type.Null()], options);
/** An ISO-8601 date-time in UTC, e.g. `2026-02-01T00:00:00Z`. */
export const IsoDateTime = Type.String({ format: 'date-time' });

export const HealthResponse = Type.Object({
  status: Type.Literal('ok', { description: 'The service is serving requests' }),
  rate_limit: Type.Optional(Type.Object({
    store: Type.Union([Type.Literal('redis'), Type.Literal('memory')], {
      description: 'Where the `…/info/balance` rate limit is counted: Redis (`REDIS_URL`, shared by the processes using it) or this process\'s memory',
    }),
    shared: Type.Boolean({ description: 'True while the limit is counted once for all processes; false when each process counts on its own (memory store, or Redis down)' }),
    redis: Type.Optional(Type.Union([Type.Literal('up'), Type.Literal('down')], {
      description: 'The Redis connection (Redis store only). While `down`, requests are still served and limited per process',
    })),
  }, { description: 'The balance rate limit\'s store' })),
}, { description: 'The service is up and ready' });

/**
 * Replaces the plugin's JSON parser with one that reads an empty DELETE body as no body: some
 * HTTP clients send `Content-Type: application/json` on every request. Everything else parses
 * as before.
 */
export function acceptEmptyDeleteBody(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (request.method === 'DELETE' && body === '') return done(null, undefined);
    return json(request, body as string, done);
  });
}

/**
 * A preValidation hook for PATCH bodies: fields the route cannot change are refused by name
 * (the validator would otherwise drop an unknown key silently).
 */
export function refuseFieldsOutside(allowed: readonly string[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
    const other = Object.keys(body).filter((k) => !allowed.includes(k));
    if (other.length > 0) {
      throw badRequest('The request has invalid parameters', other.map((k) => `${k.slice(0, 40)}: cannot be changed; PATCH accepts ${allowed.join(', ')}`), 'invalid_parameter');
    }
  };
}

/**
 * Partner credentials over HTTP:
 *
 * - `POST /api/v2/partners/{partner_id}/api_keys` `{name}` → 201 `{id, name, api_key, created_at}`
 *   (the key is shown once; only its hash is stored). `GET …/api_keys` → `{count, api_keys:[{id,
 *   name, created_at, revoked_at, last4}]}`. `DELETE …/api_keys/{key_id}` → 204; the key is refused
 *   (401) from then on. Partner credentials (X-API-Key or Bearer), checked by the app's hook.
 * - Admin token: `POST /admin/partners/{partner_id}/api_keys` (a key for a partner that lost its
 *   own), `POST|GET /admin/partners/{partner_id}/users`, `DELETE …/users/{user_id}` (revokes the user
 *   and every token issued to it).
 * - `POST /api/v2/token`, no credentials: `{"username","password"}` or `{"refresh_token"}` (JSON or
 *   form-encoded; `grant_type` optional) → exactly 200 `{"access_token","token_type":"Bearer",
 *   "expires_in","refresh_token"}`. Its errors are OAuth style, `{"error","error_description"}`
 *   (with the envelope's `meta` alongside): 400 malformed, 401 wrong credentials.
 */
import { Type, type TSchema } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, badRequest } from '../../errors.ts';
import type { Services } from '../../services.ts';
import { acceptEmptyDeleteBody, ErrorEnvelope, Id, PartnerParams } from '../schemas.ts';

const Timestamp = Type.String({ format: 'date-time', description: 'ISO-8601 instant, UTC' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

const KeyParams = Type.Object({ partner_id: Id, key_id: Id });
const UserParams = Type.Object({ partner_id: Id, user_id: Id });

const NewApiKey = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100, description: 'What the key is for, e.g. "production"' }) });
const CreatedApiKey = Type.Object({
  id: Type.String({ description: 'Key id (ends in AK), for revoking it' }),
  name: Type.String(),
  api_key: Type.String({ description: 'The secret for X-API-Key. Shown only in this response; store it now.' }),
  created_at: Timestamp,
}, { description: 'A new API key, shown once' });
const ApiKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  created_at: Timestamp,
  revoked_at: NullableTimestamp,
  last4: Type.Union([Type.String(), Type.Null()], { description: "The key's last four characters; null for keys created before keys were named" }),
}, { description: 'An API key, never its secret' });
const ApiKeyList = Type.Object({ count: Type.Integer(), api_keys: Type.Array(ApiKeyView) });

const NewUser = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@+-]+$', description: 'Unique across partners' }),
  password: Type.String({ minLength: 8, maxLength: 1024, description: 'At least 8 characters; stored as a scrypt hash' }),
});
const UserView = Type.Object({
  id: Type.String({ description: 'User id (ends in PU)' }),
  partner_id: Type.String(),
  username: Type.String(),
  created_at: Timestamp,
  revoked_at: NullableTimestamp,
}, { description: 'A partner user of the token flow, never its password' });
const UserList = Type.Object({ count: Type.Integer(), users: Type.Array(UserView) });

const TokenRequest = Type.Object({
  grant_type: Type.Optional(Type.String({ maxLength: 64, description: '`password` (default with username) or `refresh_token` (default with refresh_token alone)' })),
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
}, { description: 'A partner user\'s {"username","password"}, or {"refresh_token"}' });
const TokenResponse = Type.Object({
  access_token: Type.String({ description: 'Send as Authorization: Bearer <access_token>' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds the access token stays valid' }),
  refresh_token: Type.String({ description: 'Single-use; POST it to /api/v2/token for a new pair' }),
});
const OAuthError = Type.Object({
  error: Type.String({ description: 'RFC 6749 error code: invalid_request, invalid_grant, unsupported_grant_type, server_error' }),
  error_description: Type.String(),
  meta: ErrorEnvelope.properties.meta,
}, { description: 'Token endpoint error (OAuth 2.0 style, with the Partner API envelope\'s meta alongside)' });

const NoContent = Type.Null({ description: 'No content' });

const errors = (schema: TSchema, ...codes: number[]) => Object.fromEntries(codes.map((c) => [c, schema]));

/** Partner routes (key management) and admin routes (partner users, recovery keys). */
export const authRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { auth } = services;

  acceptEmptyDeleteBody(app);

  // ---- API keys (partner credentials) -------------------------------------------------------

  app.post('/api/v2/partners/:partner_id/api_keys', {
    schema: { params: PartnerParams, body: NewApiKey, response: { 201: CreatedApiKey, ...errors(ErrorEnvelope, 400, 401, 404, 409, 413, 415, 500) } },
  }, async (request, reply) => {
    const key = await auth.createApiKey(request.params.partner_id, request.body.name);
    request.log.info({ partner: request.params.partner_id, key_id: key.id }, 'API key created');
    return reply.code(201).header('cache-control', 'no-store').send(key);
  });

  app.get('/api/v2/partners/:partner_id/api_keys', {
    schema: { params: PartnerParams, response: { 200: ApiKeyList, ...errors(ErrorEnvelope, 400, 401, 404, 500) } },
  }, async (request) => {
    const keys = await auth.listApiKeys(request.params.partner_id);
    return { count: keys.length, api_keys: keys };
  });

  app.delete('/api/v2/partners/:partner_id/api_keys/:key_id', {
    schema: { params: KeyParams, response: { 204: NoContent, ...errors(ErrorEnvelope, 400, 401, 404, 500) } },
  }, async (request, reply) => {
    await auth.revokeApiKey(request.params.partner_id, request.params.key_id);
    request.log.info({ partner: request.params.partner_id, key_id: request.params.key_id }, 'API key revoked');
    return reply.code(204).send(null);
  });

  app.post('/admin/partners/:partner_id/api_keys', {
    schema: { params: PartnerParams, body: NewApiKey, response: { 201: CreatedApiKey, ...errors(ErrorEnvelope, 400, 401, 404, 409, 413, 415, 500) } },
  }, async (request, reply) => {
    const key = await auth.createApiKey(request.params.partner_id, request.body.name);
    request.log.info({ partner: request.params.partner_id, key_id: key.id }, 'API key created by the administrator');
    return reply.code(201).header('cache-control', 'no-store').send(key);
  });

  // ---- partner users (admin) ----------------------------------------------------------------

  app.post('/admin/partners/:partner_id/users', {
    schema: { params: PartnerParams, body: NewUser, response: { 201: UserView, ...errors(ErrorEnvelope, 400, 401, 404, 409, 413, 415, 500) } },
  }, async (request, reply) => {
    const user = await auth.createUser(request.params.partner_id, request.body.username, request.body.password);
    request.log.info({ partner: user.partner_id, user_id: user.id, username: user.username }, 'partner user created');
    return reply.code(201).send(user);
  });

  app.get('/admin/partners/:partner_id/users', {
    schema: { params: PartnerParams, response: { 200: UserList, ...errors(ErrorEnvelope, 400, 401, 404, 500) } },
  }, async (request) => {
    const users = await auth.listUsers(request.params.partner_id);
    return { count: users.length, users };
  });

  app.delete('/admin/partners/:partner_id/users/:user_id', {
    schema: { params: UserParams, response: { 204: NoContent, ...errors(ErrorEnvelope, 400, 401, 404, 500) } },
  }, async (request, reply) => {
    await auth.revokeUser(request.params.partner_id, request.params.user_id);
    request.log.info({ partner: request.params.partner_id, user_id: request.params.user_id }, 'partner user revoked');
    return reply.code(204).send(null);
  });

  await app.register(tokenRoute(services));
};

/** `POST /api/v2/token`, in its own plugin so the form-body parser stays scoped to it. */
const tokenRoute = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { auth } = services;

  // OAuth clients post forms (`grant_type=password&username=…`).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post('/api/v2/token', {
    config: { errorStyle: 'oauth' },
    schema: {
      consumes: ['application/json', 'application/x-www-form-urlencoded'],
      body: TokenRequest,
      response: { 200: TokenResponse, ...errors(OAuthError, 400, 401, 413, 415, 500) },
    },
  }, async (request, reply) => {
    const b = request.body;
    const grant = b.grant_type ?? (b.refresh_token != null && b.username == null && b.password == null ? 'refresh_token' : 'password');
    let pair;
    if (grant === 'password') {
      const missing = (['username', 'password'] as const).filter((f) => b[f] == null);
      if (missing.length > 0) throw badRequest('The request needs username and password', missing.map((f) => `${f}: is required`), 'invalid_request');
      pair = await auth.login(b.username!, b.password!).catch((err: unknown) => {
        if (err instanceof AppError && err.status === 401) request.log.info({ username: b.username }, 'login refused');
        throw err;
      });
      request.log.info({ username: b.username }, 'token issued');
    } else if (grant === 'refresh_token') {
      if (b.refresh_token == null) throw badRequest('The request needs refresh_token', ['refresh_token: is required'], 'invalid_request');
      pair = await auth.refresh(b.refresh_token);
      request.log.info('token refreshed');
    } else {
      throw new AppError(400, 'unsupported_grant_type', 'grant_type must be password or refresh_token', [`grant_type: ${JSON.stringify(grant.slice(0, 64))} is not supported`]);
    }
    return reply.code(200).header('cache-control', 'no-store').header('pragma', 'no-cache').send(pair);
  });
};

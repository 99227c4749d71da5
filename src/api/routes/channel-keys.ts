/**
 * Channel API keys over HTTP, on 360dialog's paths (a typed client library calls them):
 *
 * - `POST /api/v2/partners/{partner_id}/channels/{channel_id}/api_keys` (optional `{"name"}`) →
 *   201 `{id, address, api_key, app_id, channel_id, client_id, name, created_at}`; the key is shown
 *   once. At most MAX_ACTIVE_CHANNEL_KEYS active keys per channel (409 beyond).
 * - `GET …/api_keys` → `{count, api_keys:[…]}`, revoked keys too, oldest first, never a secret.
 * - `DELETE …/api_keys` revokes every active key of the channel, `DELETE …/api_keys/{channel_key_id}` one;
 *   both answer 200 `{"revoked": n}`, a JSON body because that client parses every response.
 *
 * Partner credentials only: a channel key calling these gets 403 (src/api/auth.ts). A channel of
 * another partner is 404 "Channel not found".
 */
import { Type } from 'typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { MAX_ACTIVE_CHANNEL_KEYS } from '../../auth/channel-keys.ts';
import type { Services } from '../../services.ts';
import { acceptEmptyDeleteBody, errorResponses, Id, IsoDateTime, Nullable } from '../schemas.ts';

const ChannelKeysParams = Type.Object({ partner_id: Id, channel_id: Id });
const ChannelKeyParams = Type.Object({ partner_id: Id, channel_id: Id, channel_key_id: Id });

const NewChannelKey = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'What the key is for, shown in lists' })),
}, { description: 'Optional; the request may have no body at all' });

const keyFields = {
  id: Type.String({ description: 'Key id (ends in CK), for revoking it' }),
  address: Type.String({ description: "This service's base URL as the request reached it (protocol and host): where the key is used" }),
};
const scopeFields = {
  app_id: Type.String({ description: "The channel's app id" }),
  channel_id: Type.String({ description: 'The only channel whose usage the key reads' }),
  client_id: Type.String({ description: "The channel's client" }),
  name: Nullable(Type.String(), { description: 'The name sent when the key was created; null = unnamed' }),
  created_at: { ...IsoDateTime, description: 'ISO-8601 instant, UTC' },
};
const CreatedChannelKey = Type.Object({
  ...keyFields,
  api_key: Type.String({ description: "The secret (wbc_…), for X-API-Key or D360-API-KEY. It reads only this channel's usage (GET …/clients/{client_id}/channels/{channel_id} and its /info/balance, /info/usage, /info/charges). Shown only in this response; store it now." }),
  ...scopeFields,
}, { description: 'A new channel API key, shown once' });
const ChannelKeyView = Type.Object({
  ...keyFields,
  ...scopeFields,
  revoked_at: Nullable(IsoDateTime, { description: 'When the key was revoked; null while it works' }),
  last4: Type.String({ description: "The key's last four characters" }),
}, { description: 'A channel API key, never its secret' });
const ChannelKeyList = Type.Object({
  count: Type.Integer({ minimum: 0, description: 'Keys listed, revoked ones included' }),
  api_keys: Type.Array(ChannelKeyView, { description: 'Oldest first' }),
}, { description: "The channel's API keys" });
const Revoked = Type.Object({
  revoked: Type.Integer({ minimum: 0, description: 'Keys this request revoked (keys revoked before are not counted)' }),
}, { description: 'Revoked: the keys are refused (401) from now on' });

/** Where the caller reached this service, as 360dialog's `address` tells where a key is used. */
const addressOf = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

export const channelKeyRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const keys = services.auth.channelKeys;

  // A POST's body is a JSON object, or none at all; a DELETE's none.
  acceptEmptyDeleteBody(app);
  // A POST without a body (no Content-Type either) is validated as `{}`.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && request.body === undefined) request.body = {};
  });

  const collection = '/api/v2/partners/:partner_id/channels/:channel_id/api_keys';

  app.post(collection, {
    schema: {
      operationId: 'createChannelApiKey',
      summary: "A key that reads only this channel's usage",
      description: `The secret is in this response only. At most ${MAX_ACTIVE_CHANNEL_KEYS} active keys per channel.`,
      params: ChannelKeysParams,
      body: NewChannelKey,
      response: { 201: CreatedChannelKey, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 500) },
    },
  }, async (request, reply) => {
    const { partner_id: partnerId, channel_id: channelId } = request.params;
    const k = await keys.create(partnerId, channelId, request.body?.name ?? null);
    request.log.info({ partner: partnerId, channel: channelId, key_id: k.id }, 'channel API key created');
    const body = { id: k.id, address: addressOf(request), api_key: k.api_key, app_id: k.app_id, channel_id: k.channel_id, client_id: k.client_id, name: k.name, created_at: k.created_at };
    return reply.code(201).header('cache-control', 'no-store').send(body);
  });

  app.get(collection, {
    schema: {
      operationId: 'listChannelApiKeys',
      summary: "The channel's API keys, revoked ones too (never a secret)",
      params: ChannelKeysParams,
      response: { 200: ChannelKeyList, ...errorResponses(400, 401, 403, 404, 500) },
    },
  }, async (request) => {
    const address = addressOf(request);
    const list = await keys.list(request.params.partner_id, request.params.channel_id);
    const api_keys = list.map((k) => ({ id: k.id, address, app_id: k.app_id, channel_id: k.channel_id, client_id: k.client_id, name: k.name, created_at: k.created_at, revoked_at: k.revoked_at, last4: k.last4 }));
    return { count: api_keys.length, api_keys };
  });

  app.delete(collection, {
    schema: {
      operationId: 'revokeChannelApiKeys',
      summary: 'Revokes every active key of the channel',
      params: ChannelKeysParams,
      response: { 200: Revoked, ...errorResponses(400, 401, 403, 404, 500) },
    },
  }, async (request) => {
    const { partner_id: partnerId, channel_id: channelId } = request.params;
    const revoked = await keys.revokeAll(partnerId, channelId);
    request.log.info({ partner: partnerId, channel: channelId, revoked }, 'channel API keys revoked');
    return { revoked };
  });

  app.delete(`${collection}/:channel_key_id`, {
    schema: {
      operationId: 'revokeChannelApiKey',
      summary: 'Revokes one key of the channel',
      params: ChannelKeyParams,
      response: { 200: Revoked, ...errorResponses(400, 401, 403, 404, 500) },
    },
  }, async (request) => {
    const { partner_id: partnerId, channel_id: channelId, channel_key_id: keyId } = request.params;
    const revoked = await keys.revoke(partnerId, channelId, keyId);
    request.log.info({ partner: partnerId, channel: channelId, key_id: keyId }, 'channel API key revoked');
    return { revoked };
  });
};

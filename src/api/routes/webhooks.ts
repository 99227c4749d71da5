/**
 * `/webhooks/whatsapp`: Meta's verification handshake and the status webhook.
 *
 * The body is read as raw bytes so the `X-Hub-Signature-256` HMAC is checked on exactly what
 * Meta signed; a refused body is stored nowhere. A 200 is sent only after the statuses and the
 * `account_update` records (volume tiers, auth-international eligibility) are committed (see
 * IngestQueue, AccountsService), so nothing acknowledged can be lost. A commit failure answers
 * 503 and Meta retries; what was already stored is recognised as duplicates.
 *
 * Response: `stored`/`duplicates` count statuses; `account_updates` counts the account updates
 * accepted from the body (new or already held); `refused` names what was refused; `ignored`
 * counts incoming messages and other changes.
 */
import { Type } from 'typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { BodyError, parseJsonBody } from '../../ingest/json-body.ts';
import { verifySignature } from '../../ingest/signature.ts';
import { parseWebhook, WebhookShapeError } from '../../ingest/webhook.ts';
import type { Services } from '../../services.ts';
import { sendError } from '../error-handler.ts';
import { hasEncodedNul } from '../input-guard.ts';
import { errorResponse, errorResponses } from '../schemas.ts';

// Real webhook bodies nest about 8 deep; anything far deeper is an attack or a bug.
export const MAX_DEPTH = 64;

export interface WebhookOptions {
  appSecrets: string[];
  verifyToken: string | null;
  bodyLimit: number;
}

const Handshake = Type.Object({
  'hub.mode': Type.Optional(Type.String()),
  'hub.challenge': Type.Optional(Type.String({ maxLength: 1024 })),
  'hub.verify_token': Type.Optional(Type.String()),
});

// ---- Responses (documentation and tests only: see openapi.ts) ----

const WebhookAccepted = Type.Object({
  success: Type.Literal(true),
  stored: Type.Integer({ minimum: 0, description: 'Statuses newly stored' }),
  duplicates: Type.Integer({ minimum: 0, description: "Statuses already held (Meta's retries)" }),
  account_updates: Type.Integer({ minimum: 0, description: 'account_update records accepted (volume tiers, auth-international eligibility), new or already held' }),
  refused: Type.Array(Type.Object({ path: Type.String({ description: 'Where in the body, e.g. entry[0].changes[0].value.statuses[1]' }), reason: Type.String() }), { description: 'What was refused, each on its own' }),
  ignored: Type.Object({
    messages: Type.Integer({ minimum: 0, description: 'Incoming messages (not billed)' }),
    changes: Type.Integer({ minimum: 0, description: 'Changes of fields the meter does not read' }),
  }),
}, { description: 'Committed: everything accepted is stored' });

const WebhookResponses = {
  200: WebhookAccepted,
  ...errorResponses(400, 413),
  401: errorResponse(401, 'X-Hub-Signature-256 is missing or does not match the body (when an app secret is configured)'),
  503: errorResponse(503, 'The statuses could not be stored; Meta retries'),
};

/** The body is read raw (for the signature) and parsed by the handler; this documents it. */
const WebhookBodyDoc = {
  openapi: {
    consumes: ['application/json'],
    body: Type.Object({
      object: Type.String({ description: 'whatsapp_business_account' }),
      entry: Type.Array(Type.Object({
        id: Type.Union([Type.String(), Type.Integer()], { description: 'The WABA id' }),
        changes: Type.Array(Type.Object({ field: Type.String({ description: 'messages, account_update, …' }), value: Type.Object({}) })),
      })),
    }, { description: "Meta's webhook notification (Cloud API envelope), signed with X-Hub-Signature-256" }),
  },
};

const HandshakeResponses = {
  200: { description: 'Verified: the hub.challenge, echoed as text/plain', content: { 'text/plain': { schema: Type.String() } } },
  403: errorResponse(403, 'Verification disabled (no WHATSAPP_VERIFY_TOKEN) or the token does not match'),
  ...errorResponses(400),
};

export const webhookRoutes = (services: Services, opts: WebhookOptions): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  // Raw bytes for the signature; JSON is parsed (with a depth guard) by the handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, (_req, body, done) => done(null, body));

  app.get('/webhooks/whatsapp', { schema: { summary: "Meta's verification handshake", querystring: Handshake, response: HandshakeResponses } }, async (request, reply) => {
    const q = request.query;
    if (!opts.verifyToken) return sendError(reply, 403, 'verification_disabled', 'Webhook verification is not configured: set WHATSAPP_VERIFY_TOKEN');
    if (q['hub.mode'] !== 'subscribe' || q['hub.verify_token'] !== opts.verifyToken) {
      return sendError(reply, 403, 'verification_failed', 'hub.mode must be "subscribe" and hub.verify_token must match WHATSAPP_VERIFY_TOKEN');
    }
    return reply.type('text/plain; charset=utf-8').send(q['hub.challenge'] ?? '');
  });

  const receive = async (request: FastifyRequest, reply: FastifyReply, phoneNumberId?: string) => {
    const raw = request.body;
    if (!Buffer.isBuffer(raw)) return sendError(reply, 400, 'empty_body', 'The request has no body');
    if (opts.appSecrets.length > 0) {
      const header = request.headers['x-hub-signature-256'];
      if (!verifySignature(raw, typeof header === 'string' ? header : undefined, opts.appSecrets)) {
        return sendError(reply, 401, 'invalid_signature', 'X-Hub-Signature-256 is missing or does not match the body', ['The signature is sha256=<hex HMAC-SHA256 of the raw body with the app secret>']);
      }
    }
    // PostgreSQL cannot store NUL characters; no real webhook carries one.
    if (hasEncodedNul(raw)) return sendError(reply, 400, 'invalid_statuses', 'The body contains NUL characters, which no WhatsApp webhook carries');
    let parsed;
    try {
      parsed = parseWebhook(parseJsonBody(raw, { maxDepth: MAX_DEPTH }), { phoneNumberId });
    } catch (err) {
      if (err instanceof BodyError || err instanceof WebhookShapeError) return sendError(reply, 400, err.code, err.message, err.details);
      throw err;
    }
    if (parsed.statuses.length === 0 && parsed.accountUpdates.length === 0 && parsed.refused.length > 0) {
      return sendError(reply, 400, 'invalid_statuses', 'No status in the body could be accepted', parsed.refused.map((r) => `${r.path}: ${r.reason}`));
    }
    let outcome;
    try {
      await services.accounts.record(parsed.accountUpdates);
      outcome = await services.queue.submit(parsed.statuses);
    } catch (err) {
      request.log.error({ err }, 'webhook commit failed');
      return sendError(reply, 503, 'store_unavailable', 'The statuses could not be stored; retry later');
    }
    return {
      success: true as const,
      stored: outcome.stored,
      duplicates: outcome.duplicates,
      account_updates: parsed.accountUpdates.length,
      refused: parsed.refused,
      ignored: parsed.ignored,
    };
  };

  app.post('/webhooks/whatsapp', { config: WebhookBodyDoc, schema: { summary: 'Status and account_update notifications (Cloud API)', response: WebhookResponses } }, (request, reply) => receive(request, reply));
  app.post('/webhooks/whatsapp/:phone_number_id', {
    config: { openapi: { ...WebhookBodyDoc.openapi, body: { ...WebhookBodyDoc.openapi.body, description: 'A webhook notification in the On-Premises shape (no metadata.phone_number_id): the path names the phone number' } } },
    schema: { summary: 'Status notifications of one phone number (On-Premises shape)', params: Type.Object({ phone_number_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }), response: WebhookResponses },
  },
    (request, reply) => receive(request, reply, request.params.phone_number_id));
};

/**
 * Calls partner code makes that only a messaging provider can serve: message templates, the
 * messaging API itself, and a channel's cancellation request. wabameter meters usage from
 * webhooks and never sends messages or provisions channels, so these answer 501 in the error
 * envelope, saying where the call belongs, instead of a bare 404 that reads like a wrong URL.
 * The README's compatibility section lists them.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../errors.ts';
import type { Services } from '../../services.ts';
import { ChannelParams, errorResponses, Id, PartnerParams } from '../schemas.ts';

const P = '/api/v2/partners/:partner_id';

const WabaParams = Type.Object({ ...PartnerParams.properties, waba_account_id: Id });
const TemplateParams = Type.Object({ ...WabaParams.properties, template_id: Id });

/** Partner API operations of a messaging provider, by what they do. */
const PARTNER_OPERATIONS = [
  { method: 'GET', url: `${P}/waba_accounts/:waba_account_id/waba_templates`, params: WabaParams, what: 'Listing message templates', id: 'listMessageTemplates' },
  { method: 'POST', url: `${P}/waba_accounts/:waba_account_id/waba_templates`, params: WabaParams, what: 'Creating a message template', id: 'createMessageTemplate' },
  { method: 'DELETE', url: `${P}/waba_accounts/:waba_account_id/waba_templates/:template_id`, params: TemplateParams, what: 'Deleting a message template', id: 'deleteMessageTemplate' },
  { method: 'POST', url: `${P}/clients/:client_id/channels/:channel_id/control/cancellation_request`, params: ChannelParams, what: "A channel's cancellation request", id: 'requestChannelCancellation' },
] as const;

/**
 * Calls of the messaging API (360dialog's, shaped like Meta's Cloud API) that partner code may
 * point at this base URL by mistake: sending, media, template and webhook configuration.
 */
const MESSAGING_API_OPERATIONS: { method: 'GET' | 'POST'; url: string; id: string }[] = [
  { method: 'POST', url: '/messages', id: 'sendMessage' },
  { method: 'POST', url: '/v1/messages', id: 'sendMessageV1' },
  { method: 'POST', url: '/media', id: 'uploadMedia' },
  { method: 'POST', url: '/v1/media', id: 'uploadMediaV1' },
  { method: 'GET', url: '/v1/configs/templates', id: 'getTemplatesConfig' },
  { method: 'POST', url: '/v1/configs/templates', id: 'setTemplatesConfig' },
  { method: 'GET', url: '/v1/configs/webhook', id: 'getWebhookConfig' },
  { method: 'POST', url: '/v1/configs/webhook', id: 'setWebhookConfig' },
];

function notServed(what: string): AppError {
  return new AppError(501, 'not_implemented',
    `${what} is not served by wabameter: it meters usage and prices from webhooks and does not send messages, manage templates or provision channels`,
    [
      "Send this call to your messaging provider: 360dialog's Partner API or Messaging API (or Meta's WhatsApp Cloud API)",
      'wabameter serves the usage, balance and account calls of the Partner API; see GET /openapi.json',
    ]);
}

export const messagingProviderRoutes = (services: Services): FastifyPluginAsync => async (app) => {
  /** A path that names a client and channel must name the caller's (404 otherwise, as everywhere). */
  const ownPath = async (request: FastifyRequest) => {
    const p = request.params as { partner_id: string; client_id?: string; channel_id?: string };
    if (p.client_id !== undefined && p.channel_id !== undefined) await services.tenants.getChannel(p.partner_id, p.client_id, p.channel_id);
  };
  for (const op of PARTNER_OPERATIONS) {
    app.route({
      method: op.method,
      url: op.url,
      schema: { operationId: op.id, summary: `${op.what}: not served here (501)`, tags: ['not-served'], params: op.params, response: errorResponses(400, 401, 404, 501) },
      handler: async (request) => {
        await ownPath(request);
        throw notServed(op.what);
      },
    });
  }
  for (const op of MESSAGING_API_OPERATIONS) {
    app.route({
      method: op.method,
      url: op.url,
      schema: { operationId: op.id, summary: 'The WhatsApp messaging API: not served here (501)', tags: ['not-served'], response: errorResponses(501) },
      handler: async () => { throw notServed('The WhatsApp messaging API'); },
    });
  }
};

/**
 * Schemas shared by several routes. One definition validates requests, types handlers and
 * (later) documents the API.
 */
import { Type } from 'typebox';

const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });

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

/**
 * Schemas shared by several routes. One definition validates requests, types handlers and
 * (later) documents the API.
 */
import { Type } from 'typebox';

const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });

export const PartnerParams = Type.Object({ partner_id: Id });
export const ClientParams = Type.Object({ partner_id: Id, client_id: Id });
export const ChannelParams = Type.Object({ partner_id: Id, client_id: Id, channel_id: Id });

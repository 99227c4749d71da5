/**
 * One WhatsApp message status as the meter keeps it: the webhook's shape flattened, with
 * timestamps as numbers and nothing personal beyond what `recipient` carries in transit
 * (the ingest pipeline turns `recipient` into a country before anything is stored).
 */
export interface NormalizedStatus {
  /** The business phone number the status belongs to (`metadata.phone_number_id`). */
  phoneNumberId: string;
  /** `entry[].id` of the Cloud API envelope (the WABA), null for On-Premises bodies. */
  wabaId: string | null;
  /** The message id (`wamid.…`), as sent; the store keeps only a hash of it. */
  messageId: string;
  /** Lowercased status: sent | delivered | read | failed | played | deleted | anything new. */
  status: string;
  /** Unix seconds (UTC). */
  timestamp: number;
  /** Transient: the recipient's number (`recipient_id`), or null when absent or empty. */
  recipient: string | null;
  /** ISO 3166-1 alpha-2 hint from `contacts[].profile.country_code` when the body carries one. */
  recipientCountryHint: string | null;
  conversationId: string | null;
  /** Unix seconds; Meta sends it as a string or a number, only on `sent`. */
  conversationExpiration: number | null;
  /** `conversation.origin.type` as sent (trimmed). */
  conversationOrigin: string | null;
  /** `pricing.pricing_model` uppercased (CBP | PMP | NBP | …). */
  pricingModel: string | null;
  pricingBillable: boolean | null;
  /** `pricing.type` as sent (trimmed, lowercased). */
  pricingType: string | null;
  /** `pricing.category` as sent (trimmed). */
  pricingCategory: string | null;
  errorCodes: number[];
}

/** A status the parser could not accept, with where it stood in the body and why. */
export interface RefusedStatus {
  /** JSON path of the refused item, e.g. `entry[0].changes[1].value.statuses[3]`. */
  path: string;
  reason: string;
}

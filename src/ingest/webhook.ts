/**
 * A parsed WhatsApp webhook body (Cloud API envelope or legacy On-Premises `statuses[]`) →
 * NormalizedStatus records. Only statuses are usage: incoming messages and other change fields
 * are counted and dropped, except the `account_update` events that bear on prices (volume-tier
 * announcements, authentication-international eligibility), which become AccountUpdate records
 * (see account-update.ts). A bad status or account update is refused on its own, with its path
 * and a reason; only a body that is not a WhatsApp webhook at all throws (WebhookShapeError).
 */
import { describe, isObject, typeName, type JsonObject } from './json-describe.ts';
import { parseAccountUpdate, unixSeconds as plausibleUnixSeconds, type AccountUpdate } from './account-update.ts';
import type { NormalizedStatus, RefusedStatus } from './status.ts';

export interface ParsedWebhook {
  statuses: NormalizedStatus[];
  refused: RefusedStatus[];
  /**
   * `account_update` changes with `VOLUME_BASED_PRICING_TIER_UPDATE` or
   * `AUTH_INTL_PRICE_ELIGIBILITY_UPDATE`, in body order (Cloud API envelope only).
   */
  accountUpdates: AccountUpdate[];
  /**
   * Parts of the body that are valid but carry no usage: incoming messages, changes other than
   * `messages` (including `account_update` events other than the two above).
   */
  ignored: { messages: number; changes: number };
}

export interface ParseWebhookOptions {
  /** For On-Premises bodies, which carry no phone_number_id: taken from the URL they were posted to. */
  phoneNumberId?: string;
}

/** The body as a whole is not a WhatsApp webhook; nothing in it was read. */
export class WebhookShapeError extends Error {
  readonly code: string;
  readonly details: string[];

  constructor(code: string, message: string, details: string[] = []) {
    super(message);
    this.name = 'WebhookShapeError';
    this.code = code;
    this.details = details;
  }
}

export const WHATSAPP_OBJECT = 'whatsapp_business_account';

// Plausible Unix-seconds range: rejects placeholders, milliseconds and zero alike.
const MIN_UNIX_SECONDS = 946684800; // 2000-01-01T00:00:00Z
const MAX_UNIX_SECONDS = 4102444800; // 2100-01-01T00:00:00Z
const TIMESTAMP_RULE = 'unix seconds between 2000-01-01 and 2100-01-01';


/** What every status of one change shares. */
interface ChangeContext {
  phoneNumberId: string;
  wabaId: string | null;
  hints: ContactHints | null;
}

interface ContactHints {
  byUserId: Map<string, string>;
  byWaId: Map<string, string>;
}

export function parseWebhook(body: unknown, opts: ParseWebhookOptions = {}): ParsedWebhook {
  const out: ParsedWebhook = { statuses: [], refused: [], accountUpdates: [], ignored: { messages: 0, changes: 0 } };

  if (!isObject(body)) {
    throw new WebhookShapeError('invalid_shape', `webhook body must be a JSON object, got ${typeName(body)}`);
  }

  if (body.object !== undefined || body.entry !== undefined) {
    parseCloudEnvelope(body, out);
    return out;
  }
  if (body.statuses !== undefined || body.messages !== undefined) {
    parseOnPremises(body, opts, out);
    return out;
  }
  throw new WebhookShapeError(
    'invalid_shape',
    'not a WhatsApp webhook: neither a Cloud API envelope (object, entry) nor an On-Premises body (statuses)',
    [`top-level keys: ${Object.keys(body).slice(0, 10).map((k) => k.slice(0, 40)).join(', ') || '(none)'}`],
  );
}

function parseCloudEnvelope(body: JsonObject, out: ParsedWebhook): void {
  if (body.object !== WHATSAPP_OBJECT) {
    throw new WebhookShapeError(
      'unsupported_object',
      `unsupported webhook object ${describe(body.object)}; expected "${WHATSAPP_OBJECT}"`,
      [`object: ${describe(body.object)}`],
    );
  }
  const entries = body.entry;
  if (!Array.isArray(entries)) {
    throw new WebhookShapeError('invalid_shape', `entry must be an array, got ${typeName(entries)}`);
  }

  for (let i = 0; i < entries.length; i++) {
    const entry: unknown = entries[i];
    const entryPath = `entry[${i}]`;
    if (!isObject(entry)) {
      out.refused.push({ path: entryPath, reason: `entry is not an object (got ${typeName(entry)})` });
      continue;
    }
    const wabaId = idString(entry.id);
    if (wabaId === undefined) {
      out.refused.push({ path: entryPath, reason: `id must be a string or an integer, got ${describe(entry.id)}` });
      continue;
    }
    const changes = entry.changes;
    if (!Array.isArray(changes)) {
      out.refused.push({ path: entryPath, reason: `changes must be an array, got ${typeName(changes)}` });
      continue;
    }
    // When Meta generated the entry; kept on account updates only (an absent or odd value is null).
    const entryTime = plausibleUnixSeconds(entry.time) ?? null;
    for (let j = 0; j < changes.length; j++) {
      parseChange(changes[j], `${entryPath}.changes[${j}]`, wabaId, out, entryTime);
    }
  }
}

function parseChange(change: unknown, path: string, wabaId: string | null, out: ParsedWebhook, entryTime: number | null): void {
  if (!isObject(change)) {
    out.refused.push({ path, reason: `change is not an object (got ${typeName(change)})` });
    return;
  }
  const field = change.field;
  if (typeof field !== 'string') {
    // Without a field we cannot tell usage from account/template notifications.
    out.refused.push({ path, reason: `field must be a string, got ${describe(field)}` });
    return;
  }
  if (field === 'account_update') {
    const result = parseAccountUpdate(change.value, `${path}.value`, wabaId, entryTime);
    if (result.kind === 'update') out.accountUpdates.push(result.update);
    else if (result.kind === 'refused') out.refused.push({ path: result.path, reason: result.reason });
    else out.ignored.changes++;
    return;
  }
  if (field !== 'messages') {
    out.ignored.changes++;
    return;
  }
  const value = change.value;
  const valuePath = `${path}.value`;
  if (!isObject(value)) {
    out.refused.push({ path: valuePath, reason: `value must be an object, got ${typeName(value)}` });
    return;
  }
  countMessages(value.messages, `${valuePath}.messages`, out);

  const statuses = value.statuses;
  if (statuses === undefined || statuses === null) return;
  const statusesPath = `${valuePath}.statuses`;
  if (!Array.isArray(statuses)) {
    out.refused.push({ path: statusesPath, reason: `statuses must be an array, got ${typeName(statuses)}` });
    return;
  }
  if (statuses.length === 0) return;

  const metadata = value.metadata;
  const phoneNumberId = isObject(metadata) ? idString(metadata.phone_number_id) : undefined;
  if (phoneNumberId === undefined || phoneNumberId === null) {
    // Every status of the change is lost for billing: refuse each so counts stay honest.
    const reason = isObject(metadata)
      ? `metadata.phone_number_id must be a non-empty string or an integer, got ${describe(metadata.phone_number_id)}`
      : `metadata must be an object carrying phone_number_id, got ${typeName(metadata)}`;
    for (let k = 0; k < statuses.length; k++) out.refused.push({ path: `${statusesPath}[${k}]`, reason });
    return;
  }

  const ctx: ChangeContext = { phoneNumberId, wabaId, hints: contactHints(value.contacts) };
  parseStatuses(statuses, statusesPath, ctx, out);
}

function parseOnPremises(body: JsonObject, opts: ParseWebhookOptions, out: ParsedWebhook): void {
  countMessages(body.messages, 'messages', out);
  const statuses = body.statuses;
  if (statuses === undefined || statuses === null) return;
  if (!Array.isArray(statuses)) {
    throw new WebhookShapeError('invalid_shape', `statuses must be an array, got ${typeName(statuses)}`);
  }
  const phoneNumberId = typeof opts.phoneNumberId === 'string' ? opts.phoneNumberId.trim() : '';
  if (phoneNumberId === '') {
    throw new WebhookShapeError(
      'phone_number_id_required',
      'On-Premises webhook bodies carry no phone_number_id: post them to /webhooks/whatsapp/{phone_number_id}',
    );
  }
  const ctx: ChangeContext = { phoneNumberId, wabaId: null, hints: contactHints(body.contacts) };
  parseStatuses(statuses, 'statuses', ctx, out);
}

function countMessages(messages: unknown, path: string, out: ParsedWebhook): void {
  if (messages === undefined || messages === null) return;
  if (Array.isArray(messages)) out.ignored.messages += messages.length;
  else out.refused.push({ path, reason: `messages must be an array, got ${typeName(messages)}` });
}

function parseStatuses(statuses: unknown[], path: string, ctx: ChangeContext, out: ParsedWebhook): void {
  for (let k = 0; k < statuses.length; k++) {
    const result = parseStatus(statuses[k], ctx);
    if (typeof result === 'string') out.refused.push({ path: `${path}[${k}]`, reason: result });
    else out.statuses.push(result);
  }
}

/** One status → a NormalizedStatus, or the reason it was refused. */
function parseStatus(s: unknown, ctx: ChangeContext): NormalizedStatus | string {
  if (!isObject(s)) return `status is not an object (got ${typeName(s)})`;

  const messageId = s.id;
  if (typeof messageId !== 'string' || messageId.length === 0) {
    return `id must be a non-empty string, got ${describe(messageId)}`;
  }
  const rawStatus = s.status;
  const status = typeof rawStatus === 'string' ? rawStatus.trim().toLowerCase() : '';
  if (status === '') return `status must be a non-empty string, got ${describe(rawStatus)}`;

  const timestamp = unixSeconds(s.timestamp);
  if (timestamp === undefined) return `timestamp must be ${TIMESTAMP_RULE}, got ${describe(s.timestamp)}`;

  // Recipient values are personal data: reasons name their type, never their content.
  const recipientId = s.recipient_id;
  if (recipientId !== undefined && recipientId !== null && typeof recipientId !== 'string') {
    return `recipient_id must be a string, got ${typeName(recipientId)}`;
  }
  const recipient = typeof recipientId === 'string' && recipientId !== '' ? recipientId : null;
  const userId = s.recipient_user_id;
  if (userId !== undefined && userId !== null && typeof userId !== 'string') {
    return `recipient_user_id must be a string, got ${typeName(userId)}`;
  }

  let recipientCountryHint: string | null = null;
  if (ctx.hints !== null) {
    // recipient_user_id is only a lookup key into contacts[]; it is never stored.
    if (typeof userId === 'string' && userId !== '') {
      recipientCountryHint = ctx.hints.byUserId.get(userId) ?? null;
    }
    if (recipientCountryHint === null && recipient !== null) {
      recipientCountryHint = ctx.hints.byWaId.get(recipient) ?? null;
    }
  }

  let conversationId: string | null = null;
  let conversationExpiration: number | null = null;
  let conversationOrigin: string | null = null;
  const conversation = s.conversation;
  if (conversation !== undefined && conversation !== null) {
    if (!isObject(conversation)) return `conversation must be an object, got ${typeName(conversation)}`;
    const id = optionalString(conversation.id);
    if (id === undefined) return `conversation.id must be a string, got ${describe(conversation.id)}`;
    conversationId = id === null || id === '' ? null : id;

    const exp = conversation.expiration_timestamp;
    if (exp !== undefined && exp !== null) {
      const seconds = unixSeconds(exp);
      if (seconds === undefined) {
        return `conversation.expiration_timestamp must be ${TIMESTAMP_RULE}, got ${describe(exp)}`;
      }
      conversationExpiration = seconds;
    }

    const origin = conversation.origin;
    if (origin !== undefined && origin !== null) {
      if (!isObject(origin)) return `conversation.origin must be an object, got ${typeName(origin)}`;
      const type = optionalString(origin.type);
      if (type === undefined) return `conversation.origin.type must be a string, got ${describe(origin.type)}`;
      conversationOrigin = nonEmpty(type === null ? null : type.trim());
    }
  }

  let pricingModel: string | null = null;
  let pricingBillable: boolean | null = null;
  let pricingType: string | null = null;
  let pricingCategory: string | null = null;
  const pricing = s.pricing;
  if (pricing !== undefined && pricing !== null) {
    if (!isObject(pricing)) return `pricing must be an object, got ${typeName(pricing)}`;

    const billable = pricing.billable;
    if (billable !== undefined && billable !== null) {
      const parsed = booleanLike(billable);
      if (parsed === undefined) return `pricing.billable must be a boolean, got ${describe(billable)}`;
      pricingBillable = parsed;
    }
    const model = optionalString(pricing.pricing_model);
    if (model === undefined) return `pricing.pricing_model must be a string, got ${describe(pricing.pricing_model)}`;
    pricingModel = nonEmpty(model === null ? null : model.trim().toUpperCase());

    const type = optionalString(pricing.type);
    if (type === undefined) return `pricing.type must be a string, got ${describe(pricing.type)}`;
    pricingType = nonEmpty(type === null ? null : type.trim().toLowerCase());

    // Spelling kept (Meta's own `business_initated` included): the classifier owns normalisation.
    const category = optionalString(pricing.category);
    if (category === undefined) return `pricing.category must be a string, got ${describe(pricing.category)}`;
    pricingCategory = nonEmpty(category === null ? null : category.trim());
  }

  const errorCodes: number[] = [];
  const errors = s.errors;
  if (errors !== undefined && errors !== null) {
    if (!Array.isArray(errors)) return `errors must be an array, got ${typeName(errors)}`;
    for (let e = 0; e < errors.length; e++) {
      const error: unknown = errors[e];
      if (!isObject(error)) return `errors[${e}] must be an object, got ${typeName(error)}`;
      if (error.code === undefined || error.code === null) continue; // nothing to record
      const code = integerLike(error.code);
      if (code === undefined) return `errors[${e}].code must be an integer, got ${describe(error.code)}`;
      errorCodes.push(code);
    }
  }

  return {
    phoneNumberId: ctx.phoneNumberId,
    wabaId: ctx.wabaId,
    messageId,
    status,
    timestamp,
    recipient,
    recipientCountryHint,
    conversationId,
    conversationExpiration,
    conversationOrigin,
    pricingModel,
    pricingBillable,
    pricingType,
    pricingCategory,
    errorCodes,
  };
}

/**
 * contacts[] → country hints keyed by user_id and wa_id. Empty keys are skipped: a BSUID-only
 * contact has `wa_id: ""`, which must not match every status whose recipient_id is also "".
 */
function contactHints(contacts: unknown): ContactHints | null {
  if (!Array.isArray(contacts) || contacts.length === 0) return null;
  const hints: ContactHints = { byUserId: new Map(), byWaId: new Map() };
  for (const contact of contacts) {
    if (!isObject(contact) || !isObject(contact.profile)) continue;
    const country = countryCode(contact.profile.country_code);
    if (country === null) continue;
    if (typeof contact.user_id === 'string' && contact.user_id !== '') hints.byUserId.set(contact.user_id, country);
    if (typeof contact.wa_id === 'string' && contact.wa_id !== '') hints.byWaId.set(contact.wa_id, country);
  }
  return hints.byUserId.size === 0 && hints.byWaId.size === 0 ? null : hints;
}

function countryCode(v: unknown): string | null {
  if (typeof v !== 'string' || v.length !== 2) return null;
  const upper = v.toUpperCase();
  return isAsciiUpper(upper.charCodeAt(0)) && isAsciiUpper(upper.charCodeAt(1)) ? upper : null;
}

function isAsciiUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** Unix seconds from a decimal string or an integer number, within the plausible range. */
function unixSeconds(v: unknown): number | undefined {
  const n = integerLike(v);
  return n !== undefined && n >= MIN_UNIX_SECONDS && n <= MAX_UNIX_SECONDS ? n : undefined;
}

/** An integer given as a number or as a string of ASCII digits (no sign, no spaces, no exponent). */
function integerLike(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 15) return undefined;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(v);
}

/**
 * Graph ids (WABA, phone number): a non-empty string, or an integer some senders emit unquoted.
 * undefined = wrong type; null = absent. Integers past 2^53 were already corrupted by JSON.parse.
 */
function idString(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') {
    const trimmed = v.trim();
    return trimmed === '' ? null : trimmed;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  return undefined;
}

function booleanLike(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (t === 'true') return true;
    if (t === 'false') return false;
  }
  return undefined;
}

/** null when absent, the string when a string, undefined when some other type. */
function optionalString(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : undefined;
}

function nonEmpty(v: string | null): string | null {
  return v === null || v === '' ? null : v;
}




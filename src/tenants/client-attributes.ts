/**
 * What a partner says about its own client, as 360dialog's client objects carry it
 * (`organisation`, `contact_info`, `partner_payload`, `max_channels`): stored as sent, returned,
 * filterable. Nothing here is personal data the meter gathers; it is what the partner chose to send.
 *
 * PATCH semantics for these fields: `null` leaves a field unchanged, because typed client
 * libraries send every property of their request object and `null` for those their caller did not
 * set (one sends `"max_channels": null` with every client update); `""` clears a text field;
 * `contact_info` merges key by key, and a key sent as `null` or `""` is removed.
 */

/** Keys of a client's `contact_info` (360dialog's contact fields); filterable as `contact_info.<key>`. */
export const CONTACT_INFO_FIELDS = ['email', 'full_name', 'name', 'phone', 'webpage_url', 'language', 'country', 'street_name', 'city', 'zip_code'] as const;
export type ContactInfoField = (typeof CONTACT_INFO_FIELDS)[number];

/** Channels a client may register when its partner set no `max_channels` of its own. */
export const DEFAULT_MAX_CHANNELS = 1000;

export type ContactInfo = Partial<Record<ContactInfoField, string>>;
export type ContactInfoPatch = Partial<Record<ContactInfoField, string | null>>;

/** The stored JSON text → the object returned (`{}` when none, so `client.contact_info.email` never throws). */
export function parseContactInfo(text: string | null | undefined): ContactInfo {
  if (text == null || text === '') return {};
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const out: ContactInfo = {};
  for (const key of CONTACT_INFO_FIELDS) if (typeof parsed[key] === 'string') out[key] = parsed[key] as string;
  return out;
}

/** `patch` applied over `stored` (key by key; null or "" removes a key) → the JSON text to store, null when empty. */
export function mergeContactInfo(stored: string | null | undefined, patch: ContactInfoPatch): string | null {
  const merged: ContactInfo = parseContactInfo(stored);
  for (const key of CONTACT_INFO_FIELDS) {
    if (!Object.hasOwn(patch, key)) continue;
    const value = patch[key];
    if (value == null || value === '') delete merged[key];
    else merged[key] = value;
  }
  // Keys in a fixed order, so equal contents are equal texts.
  const ordered = Object.fromEntries(CONTACT_INFO_FIELDS.filter((k) => merged[k] !== undefined).map((k) => [k, merged[k]]));
  return Object.keys(ordered).length === 0 ? null : JSON.stringify(ordered);
}

/** A text field as sent in a create or update: "" stores nothing. */
export const optionalText = (value: string | null | undefined): string | null => (value == null || value === '' ? null : value);

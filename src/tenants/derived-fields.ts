/**
 * Fields of 360dialog's client and channel objects that existing partner code reads and that
 * must never be null, but that this meter has no source for: it registers channels it is told
 * about and never provisions or suspends one. They are constants, documented in the README, and
 * filtering on `status` compares with them.
 */

/** `status` of every client: the meter holds no client life cycle. */
export const CLIENT_STATUS = 'active';
/**
 * `status` of every channel: 360dialog's value for a channel that is set up and can send
 * (`ready`; its others are `created`, `pending`, `verified`, `error`, … — a typed client rejects
 * values outside that list).
 */
export const CHANNEL_STATUS = 'ready';
/** `account_mode` of every channel: channels are registered for live traffic, never sandbox. */
export const CHANNEL_ACCOUNT_MODE = 'live';
/**
 * `waba_account.fb_account_status` of every channel: Meta's business verification is not known
 * here; a WABA that sends billable traffic is taken as `verified` (360dialog's lowercase values:
 * `verified`, `not_verified`, `pending`, `rejected`, …).
 */
export const FB_ACCOUNT_STATUS = 'verified';

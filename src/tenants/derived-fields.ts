/**
 * Fields of 360dialog's client and channel objects that existing partner code reads and that
 * must never be null, but that this meter has no source for: it registers channels it is told
 * about and never provisions or suspends one. They are constants, documented in the README, and
 * filtering on `status` compares with them.
 */

/** `status` of every client: the meter holds no client life cycle. */
export const CLIENT_STATUS = 'active';
/** `status` of every channel (360dialog's value for a working channel). */
export const CHANNEL_STATUS = 'running';
/** `account_mode` of every channel: channels are registered for live traffic, never sandbox. */
export const CHANNEL_ACCOUNT_MODE = 'live';
/** `waba_account.fb_account_status` of every channel: Meta's review status is not known here. */
export const FB_ACCOUNT_STATUS = 'APPROVED';

/**
 * String formats the request schemas use, so every bad field of a request is named in one 400
 * (a time zone checked after validation would be reported alone, on a second try).
 */
import { isSupportedCountry } from 'libphonenumber-js/min';
import { assertTimeZone } from '../billing/calendar.ts';

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export const FORMATS: Record<string, (value: string) => boolean> = {
  'iana-time-zone': (v) => {
    try {
      assertTimeZone(v);
      return true;
    } catch {
      return false;
    }
  },
  'country-code': (v) => /^[A-Za-z]{2}$/.test(v) && isSupportedCountry(v.toUpperCase() as never),
  /** An absolute http(s) URL, or "" (which clears the field it is sent for). */
  'http-url-or-empty': (v) => {
    if (v === '') return true;
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '';
    } catch {
      return false;
    }
  },
  'currency-code': (v) => /^[A-Za-z]{3}$/.test(v) && CURRENCIES.has(v.toUpperCase()),
};

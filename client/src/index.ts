/**
 * `@wabameter/client`: a typed client for wabameter's 360dialog-compatible Partner API.
 *
 * ```ts
 * import { WabameterClient } from '@wabameter/client';
 * const api = new WabameterClient({ baseUrl: 'https://meter.example.com', partnerId: 'abcPA', apiKey: process.env.WABAMETER_KEY! });
 * const b = await api.balance('xyzCL', { start_date: new Date('2026-03-01'), granularity: 'day' });
 * ```
 */
export {
  WabameterClient, OPERATIONS, RATE_LIMITED_OPERATIONS,
  type ApiKeyCredentials, type PasswordCredentials, type WabameterCredentials, type WabameterClientOptions,
  type RequestOptions, type BalanceRangeQuery, type BalanceRangeResponse, type RetryEvent, type FetchLike,
  type FetchResponseLike, type HttpMethod, type OperationName,
} from './client.js';
export { WabameterApiError, WabameterNetworkError, type ErrorEnvelope } from './errors.js';
export { SlidingWindowLimiter, type RateLimitOptions } from './limiter.js';
export { backoffDelay, parseRetryAfter, type RetryOptions } from './retry.js';
export { systemClock, VirtualClock, type Clock } from './clock.js';
export { dateWindows, toUnixSeconds, type DateWindow, type DateWindowOptions } from './date-windows.js';
export type * from './types.js';

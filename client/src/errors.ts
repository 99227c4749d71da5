/**
 * What the client throws. A non-2xx answer becomes a `WabameterApiError` carrying the Partner
 * API's error envelope (`meta.developer_message`, `meta.details`, `meta.error_data.code`) or the
 * token endpoint's OAuth-style `{error, error_description}`; a request that never got an answer
 * (refused connection, reset, timeout) becomes a `WabameterNetworkError`.
 */

export interface ErrorEnvelope {
  meta: {
    success: false;
    http_code: number;
    developer_message: string;
    details: string[];
    error_data: { code: string; message: string; real_message: string; status: number };
  };
}

export class WabameterApiError extends Error {
  override readonly name = 'WabameterApiError';
  /** HTTP status. */
  readonly status: number;
  /** `meta.error_data.code` (or the token endpoint's `error`), e.g. `not_found`, `rate_limited`. */
  readonly code: string;
  /** `meta.developer_message` (or `error_description`): what to do about it. */
  readonly developerMessage: string;
  /** `meta.details`: one entry per bad parameter, or hints. */
  readonly details: string[];
  readonly method: string;
  /** The request path and query (never the base URL's credentials, never a key). */
  readonly path: string;
  /** For a 429 or 503: how long the server asked to wait, in ms. */
  readonly retryAfterMs: number | undefined;
  /** The parsed body, or the raw text when it was not JSON. */
  readonly body: unknown;

  constructor(init: { status: number; code: string; developerMessage: string; details?: string[]; method: string; path: string; retryAfterMs?: number; body?: unknown }) {
    super(`${init.method} ${init.path} → ${init.status} ${init.code}: ${init.developerMessage}`);
    this.status = init.status;
    this.code = init.code;
    this.developerMessage = init.developerMessage;
    this.details = init.details ?? [];
    this.method = init.method;
    this.path = init.path;
    this.retryAfterMs = init.retryAfterMs;
    this.body = init.body;
  }

  /** Reads whichever error shape the body has; falls back to the status line. */
  static fromResponse(status: number, text: string, req: { method: string; path: string; retryAfterMs?: number }): WabameterApiError {
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON (a proxy's HTML page, …): keep the text
    }
    const meta = isObject(body) && isObject(body.meta) ? body.meta : undefined;
    if (meta) {
      const data = isObject(meta.error_data) ? meta.error_data : {};
      return new WabameterApiError({
        status,
        code: str(data.code) ?? `http_${status}`,
        developerMessage: str(meta.developer_message) ?? str(data.message) ?? `HTTP ${status}`,
        details: Array.isArray(meta.details) ? meta.details.map(String) : [],
        ...req,
        body,
      });
    }
    if (isObject(body) && typeof body.error === 'string') {
      return new WabameterApiError({
        status,
        code: body.error,
        developerMessage: str(body.error_description) ?? body.error,
        ...req,
        body,
      });
    }
    const snippet = typeof body === 'string' && body.length > 0 ? `: ${body.slice(0, 200)}` : '';
    return new WabameterApiError({ status, code: `http_${status}`, developerMessage: `HTTP ${status}${snippet}`, ...req, body });
  }
}

export class WabameterNetworkError extends Error {
  override readonly name = 'WabameterNetworkError';
  readonly method: string;
  readonly path: string;
  /** How many times the request was sent. */
  readonly attempts: number;
  constructor(method: string, path: string, attempts: number, cause: unknown) {
    super(`${method} ${path}: no answer after ${attempts} attempt(s): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.method = method;
    this.path = path;
    this.attempts = attempts;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The one place errors become responses: every non-2xx body is the Partner API's envelope
 * (`meta.success`, `http_code`, `developer_message`, `details`, `error_data`), and a 500 never
 * carries internals.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `oauth`: errors of this route are OAuth 2.0 style, `{"error","error_description"}` (the
     * token endpoint, as 360dialog's), with the envelope's `meta` alongside for clients that
     * read `meta` on every error.
     */
    errorStyle?: 'oauth';
  }
}
import { AppError } from '../errors.ts';

export function envelope(status: number, code: string, message: string, details: string[] = []) {
  return {
    meta: {
      success: false,
      http_code: status,
      developer_message: message,
      details,
      error_data: { code, message, real_message: message, status },
    },
  };
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string, details: string[] = []) {
  return reply.code(status).type('application/json; charset=utf-8').send(envelope(status, code, message, details));
}

/** RFC 6749 §5.2 error codes; anything else is mapped onto them by status. */
const OAUTH_CODES = new Set(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope']);

export function oauthError(status: number, code: string, message: string, details: string[] = []) {
  const error = OAUTH_CODES.has(code) ? code : status >= 500 ? 'server_error' : status === 401 ? 'invalid_grant' : 'invalid_request';
  const description = details.length > 0 ? `${message}: ${details.join('; ')}` : message;
  return { error, error_description: description, ...envelope(status, code, message, details) };
}

function sendOAuthError(reply: FastifyReply, status: number, code: string, message: string, details: string[] = []) {
  return reply.code(status).type('application/json; charset=utf-8').header('cache-control', 'no-store').send(oauthError(status, code, message, details));
}

const senderFor = (request: FastifyRequest) => (request.routeOptions.config?.errorStyle === 'oauth' ? sendOAuthError : sendError);

interface AjvError { instancePath?: string; message?: string; params?: Record<string, unknown> }

/** `querystring/start_date must match pattern …` → `start_date: must match pattern …`. */
function validationDetails(err: FastifyError): string[] {
  const list = (err.validation ?? []) as AjvError[];
  return list.map((v) => {
    const missing = v.params?.missingProperty as string | undefined;
    const path = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    const field = missing ? (path ? `${path}.${missing}` : missing) : path || (err.validationContext ?? 'request');
    const extra = v.params?.additionalProperty ? ` (${String(v.params.additionalProperty)})` : '';
    return `${field}: ${v.message ?? 'is invalid'}${extra}`;
  });
}

const KNOWN_CLIENT_ERRORS: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large', 'Request body is too large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'Unsupported Content-Type: send application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_request', 'Content-Length does not match the body'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json', 'The JSON body is empty'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json', 'The body is not valid JSON'],
};

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const send = senderFor(request);
    if (err instanceof AppError) return send(reply, err.status, err.code, err.message, err.details);
    if (err.validation) {
      return send(reply, 400, 'invalid_parameter', 'The request has invalid parameters', validationDetails(err));
    }
    const known = err.code ? KNOWN_CLIENT_ERRORS[err.code] : undefined;
    // The parser's message quotes the body; the token endpoint's body holds a password.
    const quotesBody = err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' && send === sendError;
    if (known) return send(reply, known[0], known[1], known[2], quotesBody ? [err.message] : []);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return send(reply, err.statusCode, 'invalid_request', err.message);
    }
    request.log.error({ err }, 'unhandled error');
    return send(reply, 500, 'internal_error', 'Internal server error; the failure was logged');
  });

  // 405 for a path some route serves with other methods: Fastify's router answers 404, so the
  // not-found handler matches the path against every registered route's pattern.
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route) => {
    const escaped = route.url.split('/').map((seg) =>
      seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('/');
    routes.push({ pattern: new RegExp(`^${escaped}$`), methods: [route.method].flat().map(String) });
  });
  const allowedMethods = (path: string) =>
    [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort();

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const allowed = allowedMethods(path);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, 405, 'method_not_allowed', `Method ${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`);
    }
    return sendError(reply, 404, 'not_found', `No route ${request.method} ${path}`);
  });
}

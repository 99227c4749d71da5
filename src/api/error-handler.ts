/**
 * The one place errors become responses: every non-2xx body is the Partner API's envelope
 * (`meta.success`, `http_code`, `developer_message`, `details`, `error_data`), and a 500 never
 * carries internals.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
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
    if (err instanceof AppError) return sendError(reply, err.status, err.code, err.message, err.details);
    if (err.validation) {
      return sendError(reply, 400, 'invalid_parameter', 'The request has invalid parameters', validationDetails(err));
    }
    const known = err.code ? KNOWN_CLIENT_ERRORS[err.code] : undefined;
    if (known) return sendError(reply, known[0], known[1], known[2], err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? [err.message] : []);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, 'invalid_request', err.message);
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, 500, 'internal_error', 'Internal server error; the failure was logged');
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}`));
}

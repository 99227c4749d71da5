/**
 * The closed set of failures the service reports. Domain code throws these; one handler
 * (src/api/error-handler.ts) turns them into the Partner API's error envelope.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    /** Machine-readable code, e.g. `not_found`, `invalid_parameter`. */
    readonly code: string,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details: string[] = [], code = 'invalid_request') => new AppError(400, code, message, details);
export const unauthorized = (message: string, details: string[] = []) => new AppError(401, 'unauthorized', message, details);
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);
export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, details: string[] = []) => new AppError(409, 'conflict', message, details);

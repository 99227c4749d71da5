/**
 * Two things schema validation lets through and the store must never see:
 * - non-finite numbers: Ajv's type coercion turns the text "1e309" into Infinity and accepts it
 *   as an integer within any bounds;
 * - NUL characters in text, which PostgreSQL cannot store (it answers with an encoding error).
 * Both are refused with a 400 naming the field, after validation and before any handler runs.
 */
import type { FastifyRequest } from 'fastify';
import { badRequest } from '../errors.ts';

const MAX_DEPTH = 64;

/** Walks a parsed request part without recursion (bodies can nest 100,000 deep). */
function problems(root: unknown, rootPath: string, out: string[]): void {
  const stack: [unknown, string, number][] = [[root, rootPath, 0]];
  while (stack.length > 0) {
    const [value, path, depth] = stack.pop()!;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) out.push(`${path}: must be a finite number`);
    } else if (typeof value === 'string') {
      if (value.includes('\u0000')) out.push(`${path || 'value'}: must not contain NUL characters`);
    } else if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
      if (depth >= MAX_DEPTH) {
        out.push(`${path}: nested more than ${MAX_DEPTH} levels deep`);
        continue;
      }
      if (Array.isArray(value)) value.forEach((v, i) => stack.push([v, `${path}[${i}]`, depth + 1]));
      else {
        for (const [k, v] of Object.entries(value)) {
          if (k.includes('\u0000')) out.push(`${path || 'value'}: keys must not contain NUL characters`);
          stack.push([v, path ? `${path}.${k}` : k, depth + 1]);
        }
      }
    }
  }
}

export async function guardInput(request: FastifyRequest): Promise<void> {
  const out: string[] = [];
  problems(request.params, '', out);
  problems(request.query, '', out);
  if (typeof request.body === 'string') {
    if (request.body.includes('\u0000')) out.push('body: must not contain NUL characters');
  } else {
    problems(request.body, '', out);
  }
  if (out.length) throw badRequest('The request has invalid parameters', out, 'invalid_parameter');
}

/** True when a raw JSON body encodes a NUL character anywhere (webhooks are read raw). */
export function hasEncodedNul(raw: Buffer): boolean {
  return raw.includes('\\u0000') || raw.includes(0);
}

/**
 * Reading the app's OpenAPI document in tests: the routes the app really serves, the document's
 * operations, and validators for the response schemas it gives.
 */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { FORMATS } from '../../src/api/formats.ts';

// ajv-formats is CommonJS: the default import is the plugin (with a `default` property in its types).
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Paths of Swagger UI's page and assets, the only routes the document leaves out. */
export const isDocsAsset = (url: string) => url === '/docs' || url.startsWith('/docs/');

export interface RouteEntry { method: string; url: string }

/**
 * Every route the app serves, from `printRoutes` (find-my-way's own tree, independent of the
 * OpenAPI generator): each line is `<indent>├── <path segment> (METHODS)`, a child's path
 * continuing its parent's.
 */
export function servedRoutes(app: FastifyInstance): RouteEntry[] {
  const out: RouteEntry[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│   |    )*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    const url = `${stack.join('')}${m[2]}`;
    stack.push(m[2]);
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter((s) => s && s !== '-')) {
      out.push({ method, url });
    }
  }
  return out;
}

/** `/a/:b/c` → `/a/{b}/c`. */
export const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export type Schema = Record<string, unknown>;
export interface MediaType { schema?: Schema }
export interface ResponseObject { description: string; content?: Record<string, MediaType>; headers?: Record<string, unknown> }
export interface Operation {
  operationId?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; required?: boolean; schema?: Schema }[];
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
}
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  servers?: { url: string }[];
  tags?: { name: string }[];
  components?: { securitySchemes?: Record<string, Record<string, unknown>>; schemas?: Record<string, Schema> };
  paths: Record<string, Record<string, Operation>>;
}

export async function fetchDocument(app: FastifyInstance): Promise<OpenApiDocument> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

export interface OperationRef { method: string; path: string; op: Operation }

export function operationsOf(doc: OpenApiDocument): OperationRef[] {
  const out: OperationRef[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) if (item[method]) out.push({ method: method.toUpperCase(), path, op: item[method] });
  }
  return out;
}

/** The operation a concrete request hits: the document path that matches, static segments first (as the router does). */
export function operationFor(doc: OpenApiDocument, method: string, url: string): OperationRef | undefined {
  const path = url.split('?')[0];
  const candidates = operationsOf(doc).filter((o) => o.method === method.toUpperCase()).filter((o) => {
    const re = new RegExp(`^${o.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    return re.test(path);
  });
  const staticCount = (p: string) => p.split('/').filter((s) => s && !s.startsWith('{')).length;
  return candidates.sort((a, b) => staticCount(b.path) - staticCount(a.path))[0];
}

/** The documented response for a status: the exact code, else its range (`4XX`), else `default`. */
export function responseFor(op: Operation, status: number): { key: string; response: ResponseObject } | undefined {
  for (const key of [String(status), `${String(status)[0]}XX`, 'default']) {
    if (op.responses[key]) return { key, response: op.responses[key] };
  }
  return undefined;
}

export function is2xx(key: string) {
  return /^2(\d\d|XX)$/.test(key);
}

/** True when a response documents a body schema (a 204 documents none, and needs none). */
export const hasBodySchema = (r: ResponseObject) => Object.values(r.content ?? {}).some((m) => m.schema !== undefined);

/**
 * A copy of a schema in which every object that lists properties allows no others, so validation
 * also proves that every field a response carries is documented. (The document itself stays
 * open: fields may be added, and clients ignore what they do not know.)
 */
export function closed(schema: unknown, inAllOf = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => closed(s, inAllOf));
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, closed(s)]));
    } else if (k === 'allOf') {
      out[k] = closed(v, true);
    } else if (k === 'enum' || k === 'const' || k === 'default' || k === 'examples' || k === 'example') {
      out[k] = v;
    } else {
      out[k] = closed(v);
    }
  }
  const props = out.properties as Record<string, unknown> | undefined;
  if (!inAllOf && props && Object.keys(props).length > 0 && !('additionalProperties' in out) && !('patternProperties' in out) && !('unevaluatedProperties' in out)) {
    out.additionalProperties = false;
  }
  return out;
}

/** Ajv for the document's schemas: JSON Schema 2020-12 (OpenAPI 3.1's dialect), strict, with the app's formats. */
export function schemaValidator() {
  const ajv = new Ajv2020({ strict: true, allErrors: true, strictTypes: false, allowUnionTypes: true });
  addFormats(ajv);
  for (const [name, check] of Object.entries(FORMATS)) ajv.addFormat(name, check);
  // OpenAPI's own annotation keywords in schema objects.
  ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
  const cache = new Map<string, ValidateFunction>();
  return {
    compile(schema: unknown): ValidateFunction {
      const key = JSON.stringify(schema);
      let v = cache.get(key);
      if (!v) cache.set(key, (v = ajv.compile(schema as Schema)));
      return v;
    },
  };
}

export interface Checked { method: string; path: string; status: number; key: string }

/**
 * Validates a real response against the document: its status is documented (exactly or by
 * range), its media type is, and the body validates against the schema given for both, with
 * every field documented. Returns what it checked.
 */
export function checkResponse(doc: OpenApiDocument, v: ReturnType<typeof schemaValidator>, method: string, url: string, res: LightMyRequestResponse): Checked {
  const where = `${method} ${url.split('?')[0]} → ${res.statusCode}`;
  const found = operationFor(doc, method, url);
  assert.ok(found, `${where}: no operation in the document`);
  const documented = responseFor(found.op, res.statusCode);
  assert.ok(documented, `${where}: status not documented (documented: ${Object.keys(found.op.responses).join(', ')})`);
  const { response, key } = documented;
  if (res.body === '') {
    assert.ok(res.statusCode === 204 || !hasBodySchema(response), `${where}: empty body, but the document gives one`);
    return { method: found.method, path: found.path, status: res.statusCode, key };
  }
  const media = String(res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const content = response.content ?? {};
  const mediaType = content[media];
  assert.ok(mediaType?.schema, `${where}: media type ${media} not documented for ${key} (documented: ${Object.keys(content).join(', ') || 'none'})`);
  const body: unknown = media.endsWith('json') ? JSON.parse(res.body) : res.body;
  const validate = v.compile(mediaType.schema);
  assert.ok(validate(body), `${where}: body does not match the documented schema: ${JSON.stringify(validate.errors?.slice(0, 5))}\n${res.body.slice(0, 500)}`);
  const strict = v.compile(closed(mediaType.schema));
  assert.ok(strict(body), `${where}: body has fields the document does not list: ${JSON.stringify(strict.errors?.slice(0, 5))}`);
  return { method: found.method, path: found.path, status: res.statusCode, key };
}

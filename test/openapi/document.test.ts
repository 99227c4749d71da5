/**
 * The OpenAPI document at /openapi.json and the reference page at /docs:
 * - every route the app serves is in the document with its method (HEAD/OPTIONS variants and
 *   Swagger UI's own /docs assets aside), and the document has no operation the app does not serve;
 * - the document is valid OpenAPI 3.1: the official 3.1 schema (@seriousme/openapi-schema-validator)
 *   plus every schema object compiled as JSON Schema 2020-12 (the official schema leaves schema
 *   objects unchecked);
 * - info, servers, security schemes, tags and operationIds are as promised;
 * - /docs serves Swagger UI from this server only (no URL of another origin, a CSP that forbids one).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { DOCS_CSP } from '../../src/api/openapi.ts';
import { startApp, type TestApp } from '../helpers.ts';
import { fetchDocument, HTTP_METHODS, isDocsAsset, openApiPath, operationsOf, schemaValidator, servedRoutes, type OpenApiDocument } from './support.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: OpenApiDocument;
  before(async () => {
    t = await startApp('sqlite');
    doc = await fetchDocument(t.app);
  });
  after(async () => { await t.close(); });

  test('printRoutes is read completely: every route parsed is one the router has', () => {
    const routes = servedRoutes(t.app);
    assert.ok(routes.length > 20, `only ${routes.length} routes parsed`);
    for (const r of routes) {
      // printRoutes shows a wildcard child without its static prefix (/docs/static/* as /docs/*).
      if (isDocsAsset(r.url)) continue;
      assert.ok(!r.url.includes('*'), `${r.method} ${r.url}: a wildcard route; servedRoutes cannot read its full path`);
      assert.ok(t.app.hasRoute({ method: r.method as 'GET', url: r.url }), `${r.method} ${r.url} parsed but not a route`);
    }
  });

  test('every route the app serves is in the document with its method (HEAD/OPTIONS and /docs assets aside)', () => {
    const served = servedRoutes(t.app).filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS' && !isDocsAsset(r.url));
    const missing = served.filter((r) => !doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()]).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(missing, [], `routes missing from /openapi.json:\n${missing.join('\n')}`);
    assert.ok(doc.paths['/openapi.json']?.get, '/openapi.json documents itself');
  });

  test('every operation in the document is a route the app serves', () => {
    const served = new Set(servedRoutes(t.app).map((r) => `${r.method} ${openApiPath(r.url)}`));
    const phantom = operationsOf(doc).map((o) => `${o.method} ${o.path}`).filter((k) => !served.has(k));
    assert.deepEqual(phantom, []);
    assert.ok(!Object.keys(doc.paths).some((p) => p === '/docs' || p.startsWith('/docs/')), 'Swagger UI assets are not operations');
  });

  test('valid OpenAPI 3.1 by the official schema', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    assert.equal(validator.version, '3.1');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  });

  test('every schema object compiles as JSON Schema 2020-12 (strict: no unknown keyword)', () => {
    const v = schemaValidator();
    let n = 0;
    for (const { method, path, op } of operationsOf(doc)) {
      const schemas: [string, unknown][] = [];
      for (const p of op.parameters ?? []) schemas.push([`parameter ${p.in} ${p.name}`, p.schema]);
      for (const [media, m] of Object.entries(op.requestBody?.content ?? {})) schemas.push([`request ${media}`, m.schema]);
      for (const [status, r] of Object.entries(op.responses)) {
        for (const [media, m] of Object.entries(r.content ?? {})) schemas.push([`response ${status} ${media}`, m.schema]);
      }
      for (const [where, schema] of schemas) {
        if (schema === undefined) continue;
        assert.doesNotThrow(() => v.compile(schema), `${method} ${path} ${where}`);
        n++;
      }
    }
    assert.ok(n > 100, `${n} schemas compiled`);
  });

  test('path parameters: each {name} of a path is declared once, in: path, required', () => {
    for (const { method, path, op } of operationsOf(doc)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path');
      assert.deepEqual(declared.map((p) => p.name).sort(), names, `${method} ${path}`);
      for (const p of declared) assert.equal(p.required, true, `${method} ${path} ${p.name}`);
    }
  });

  test('info, servers and security schemes', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.title, 'wabameter');
    assert.equal(doc.info.version, pkg.version);
    assert.deepEqual(doc.servers, [{ url: '/' }]);
    assert.deepEqual(doc.components?.securitySchemes?.ApiKeyAuth, {
      type: 'apiKey', in: 'header', name: 'X-API-Key', description: doc.components?.securitySchemes?.ApiKeyAuth.description,
    });
    assert.equal(doc.components?.securitySchemes?.BearerAuth.type, 'http');
    assert.equal(doc.components?.securitySchemes?.BearerAuth.scheme, 'bearer');
  });

  test('security: /admin takes the admin token, partner routes a key or a token, the rest is public', () => {
    for (const { method, path, op } of operationsOf(doc)) {
      const expected = path.startsWith('/admin/') ? [{ BearerAuth: [] }]
        : path.startsWith('/api/v2/partners/{partner_id}') ? [{ ApiKeyAuth: [] }, { BearerAuth: [] }] : [];
      assert.deepEqual(op.security, expected, `${method} ${path}`);
      // The credentials are described by the scheme, not as header parameters.
      assert.ok(!(op.parameters ?? []).some((p) => p.in === 'header' && /^(x-api-key|authorization)$/i.test(p.name)), `${method} ${path}`);
    }
  });

  test('operationIds: present, unique, identifier-shaped; the known ones are stable', () => {
    const ids = operationsOf(doc).map((o) => o.op.operationId);
    for (const id of ids) assert.match(String(id), /^[a-z][A-Za-z0-9]*$/);
    assert.equal(new Set(ids).size, ids.length, `duplicates: ${ids.filter((id, i) => ids.indexOf(id) !== i).join(', ')}`);
    const id = (method: string, path: string) => doc.paths[path]?.[method]?.operationId;
    assert.equal(id('get', '/api/v2/partners/{partner_id}/clients/{client_id}/info/balance'), 'getClientBalance');
    assert.equal(id('get', '/api/v2/partners/{partner_id}/clients/{client_id}/channels/{channel_id}/info/balance'), 'getChannelBalance');
    assert.equal(id('post', '/admin/partners'), 'createPartner');
    assert.equal(id('post', '/webhooks/whatsapp'), 'receiveWebhook');
    assert.equal(id('get', '/healthz'), 'getHealth');
  });

  test('tags: every operation has one, each declared once at the top', () => {
    const declared = (doc.tags ?? []).map((t) => t.name);
    assert.equal(new Set(declared).size, declared.length);
    for (const { method, path, op } of operationsOf(doc)) {
      assert.equal(op.tags?.length, 1, `${method} ${path}`);
      assert.ok(declared.includes(op.tags![0]), `${method} ${path}: tag ${op.tags![0]} not declared`);
    }
    for (const name of ['balance', 'charges', 'tiers', 'rate-cards', 'volume-tiers', 'webhooks', 'clients', 'channels', 'partners', 'service']) {
      assert.ok(declared.includes(name), name);
    }
  });

  test('every operation documents the error envelope for 4XX and 5XX', () => {
    for (const { method, path, op } of operationsOf(doc)) {
      for (const range of ['4XX', '5XX']) {
        const schema = op.responses[range]?.content?.['application/json']?.schema as { properties?: Record<string, unknown> } | undefined;
        assert.ok(schema?.properties?.meta, `${method} ${path} ${range}`);
      }
    }
  });

  test('the webhook handshake documents text/plain; CSV uploads document their text/csv body', () => {
    const handshake = doc.paths['/webhooks/whatsapp'].get.responses['200'];
    assert.deepEqual(Object.keys(handshake.content ?? {}), ['text/plain']);
    for (const path of ['/admin/rate-cards', '/admin/volume-tiers']) {
      assert.deepEqual(doc.paths[path].post.requestBody?.content['text/csv']?.schema?.type, 'string', path);
    }
    assert.ok(doc.paths['/webhooks/whatsapp'].post.requestBody?.content['application/json'], 'webhook body documented');
  });

  test('no operation uses a method OpenAPI 3.1 cannot describe', () => {
    for (const item of Object.values(doc.paths)) {
      for (const key of Object.keys(item)) assert.ok((HTTP_METHODS as readonly string[]).includes(key) || key === 'parameters' || key === 'summary' || key === 'description', key);
    }
  });
});

describe('/docs reference page', () => {
  let t: TestApp;
  before(async () => { t = await startApp('sqlite'); });
  after(async () => { await t.close(); });

  const get = (url: string) => t.app.inject({ method: 'GET', url });

  test('GET /docs is an HTML page whose scripts and styles are served here, under a CSP allowing only this origin', async () => {
    const page = await get('/docs');
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['content-security-policy'], DOCS_CSP);
    for (const directive of String(page.headers['content-security-policy']).split(';')) {
      assert.doesNotMatch(directive, /https?:|\*/, `CSP allows another origin: ${directive}`);
    }
    assert.doesNotMatch(page.body, /(src|href)=["']?(https?:)?\/\//i, 'the page refers to another origin');
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.some((a) => a.endsWith('swagger-ui-bundle.js')), assets.join(' '));
    for (const asset of assets) {
      const res = await get(asset);
      assert.equal(res.statusCode, 200, asset);
      assert.ok(res.rawPayload.length > 0, asset);
    }
  });

  test('the page reads this document, and its initializer calls no other origin (no online validator)', async () => {
    const init = await get('/docs/static/swagger-initializer.js');
    assert.equal(init.statusCode, 200);
    assert.match(init.body, /resolveUrl\('\.\/json'\)/);
    assert.match(init.body, /validatorUrl: null/);
    const code = init.body.split('\n').filter((line) => !line.trim().startsWith('//')).join('\n');
    assert.doesNotMatch(code, /https?:\/\//);
    const json = await get('/docs/json');
    assert.deepEqual(json.json(), (await get('/openapi.json')).json());
  });
});

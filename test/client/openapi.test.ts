/**
 * The client covers the server's Partner API: every operation `/openapi.json` lists under
 * `/api/v2` has a client method (by method and path template), and every operation the client
 * calls is one the server documents.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OPERATIONS, WabameterClient } from '../../client/src/index.ts';
import { serve, type Served } from './support.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
/** `/a/{partner_id}/b/{x}` → `/a/{}/b/{}`: parameter names may differ, positions may not. */
const shape = (path: string) => path.replace(/\{[^}]+\}/g, '{}');

describe('client ↔ /openapi.json', () => {
  let s: Served;
  let doc: { openapi: string; paths: Record<string, Record<string, { operationId?: string }>> };

  before(async () => {
    s = await serve();
    const res = await fetch(`${s.baseUrl}/openapi.json`);
    assert.equal(res.status, 200);
    doc = await res.json() as typeof doc;
  });
  after(async () => { await s.close(); });

  const serverOps = () => Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/api/v2/'))
    .flatMap(([path, item]) => Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([m, op]) => ({ key: `${m.toUpperCase()} ${shape(path)}`, id: op.operationId, path })));
  const clientOps = () => Object.entries(OPERATIONS).map(([name, op]) => ({ key: `${op.method} ${shape(op.path)}`, name }));

  test('every /api/v2 operation of the server has a client method', () => {
    assert.match(doc.openapi, /^3\.1\./);
    const covered = new Set(clientOps().map((o) => o.key));
    const missing = serverOps().filter((o) => !covered.has(o.key)).map((o) => `${o.key} (${o.id})`);
    assert.deepEqual(missing, [], 'operations without a client method');
    assert.ok(serverOps().length >= 18, `${serverOps().length} operations`);
  });

  test('every operation the client calls exists on the server, with the same parameter names', () => {
    const server = new Map(serverOps().map((o) => [o.key, o.path]));
    const unknown = clientOps().filter((o) => !server.has(o.key)).map((o) => `${o.name}: ${o.key}`);
    assert.deepEqual(unknown, [], 'client operations the server does not document');
    for (const [name, op] of Object.entries(OPERATIONS)) {
      assert.equal(server.get(`${op.method} ${shape(op.path)}`), op.path, `${name}: path parameter names`);
    }
  });

  test('each operation is a method of WabameterClient (the token endpoint: login and refresh)', () => {
    for (const name of Object.keys(OPERATIONS)) {
      const methods = name === 'token' ? ['login', 'refresh'] : [name];
      for (const m of methods) assert.equal(typeof (WabameterClient.prototype as unknown as Record<string, unknown>)[m], 'function', m);
    }
  });
});

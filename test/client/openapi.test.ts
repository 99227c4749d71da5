/**
 * The client covers the server's Partner API: every operation `/openapi.json` lists under
 * `/api/v2` has a client method (by method and path template), and every operation the client
 * calls is one the server documents. The only exceptions are listed in NOT_COVERED, and the test
 * checks that each of them really is a call the server never serves (see there).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OPERATIONS, WabameterApiError, WabameterClient } from '../../client/src/index.ts';
import { serve, tenant, type Served } from './support.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
/** `/a/{partner_id}/b/{x}` → `/a/{}/b/{}`: parameter names may differ, positions may not. */
const shape = (path: string) => path.replace(/\{[^}]+\}/g, '{}');

/**
 * Server operations the client deliberately has no method for, by operationId. They are a
 * messaging provider's calls (message templates, a channel's cancellation request) that
 * wabameter documents only so partner code pointed at it gets a 501 saying where the call
 * belongs: a method for them could never succeed. The rule stays honest because an entry counts
 * only while the server tags the operation `not-served`, documents a 501 and no 2xx answer, and
 * really answers it 501 (all checked below); any other uncovered operation fails the test.
 */
const NOT_COVERED: readonly string[] = [
  'listMessageTemplates',
  'createMessageTemplate',
  'deleteMessageTemplate',
  'requestChannelCancellation',
];

describe('client ↔ /openapi.json', () => {
  let s: Served;
  type Operation = { operationId?: string; tags?: string[]; responses?: Record<string, unknown> };
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>> };

  before(async () => {
    s = await serve();
    const res = await fetch(`${s.baseUrl}/openapi.json`);
    assert.equal(res.status, 200);
    doc = await res.json() as typeof doc;
  });
  after(async () => { await s.close(); });

  const serverOps = () => Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/api/v2/'))
    .flatMap(([path, item]) => Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([m, op]) => ({ key: `${m.toUpperCase()} ${shape(path)}`, id: op.operationId, path, method: m.toUpperCase(), op })));
  const clientOps = () => Object.entries(OPERATIONS).map(([name, op]) => ({ key: `${op.method} ${shape(op.path)}`, name }));

  test('every /api/v2 operation of the server has a client method', () => {
    assert.match(doc.openapi, /^3\.1\./);
    const covered = new Set(clientOps().map((o) => o.key));
    const missing = serverOps().filter((o) => !covered.has(o.key) && !NOT_COVERED.includes(o.id ?? '')).map((o) => `${o.key} (${o.id})`);
    assert.deepEqual(missing, [], 'operations without a client method');
    assert.ok(serverOps().length >= 30, `${serverOps().length} operations`);
  });

  test('the operations left uncovered are only ones the server tags not-served and answers 501', async () => {
    const byId = new Map(serverOps().map((o) => [o.id, o]));
    const { client, channel } = await tenant(s);
    for (const id of NOT_COVERED) {
      const o = byId.get(id);
      assert.ok(o, `${id}: still documented (else drop it from NOT_COVERED)`);
      assert.ok(!new Set(clientOps().map((c) => c.key)).has(o.key), `${id}: the client covers it now (drop it from NOT_COVERED)`);
      assert.deepEqual(o.op.tags, ['not-served'], `${id}: tags`);
      const statuses = Object.keys(o.op.responses ?? {});
      assert.ok(statuses.includes('501'), `${id}: documents 501`);
      assert.deepEqual(statuses.filter((c) => c.startsWith('2')), [], `${id}: documents no success answer`);
      // Called for real (with this partner's own client and channel where the path names them):
      // the error envelope with 501, read by the client's error parser.
      const ids: Record<string, string> = { partner_id: s.partner.id, client_id: client.id, channel_id: channel.id };
      const path = o.path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? 'x1');
      const res = await fetch(s.baseUrl + path, { method: o.method, headers: { 'x-api-key': s.partner.api_key } });
      const err = WabameterApiError.fromResponse(res.status, await res.text(), { method: o.method, path });
      assert.equal(err.status, 501, `${id}: ${err.message}`);
      assert.equal(err.code, 'not_implemented');
      assert.match(err.developerMessage, /not served by wabameter/);
      assert.ok(err.details.length > 0);
    }
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

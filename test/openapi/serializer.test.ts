/**
 * Response schemas document; they never reshape. With Fastify's default serializer
 * (fast-json-stringify) a response schema drops unlisted fields and coerces values; the app's
 * serializer (src/api/openapi.ts) sends exactly what the handler returned.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { serializeWithJsonStringify } from '../../src/api/openapi.ts';
import { startApp } from '../helpers.ts';

const schema = {
  response: {
    200: {
      type: 'object',
      properties: { price: { type: 'number' }, quantity: { type: 'integer' }, note: { type: 'string' } },
    },
  },
};
// A handler that strays from its schema: a price as a string, a null quantity, an unlisted field.
const strayed = { price: '0.0118', quantity: null, note: 7, additive_field: 1 };

async function bodyOf(jsonStringify: boolean): Promise<string> {
  const app = Fastify();
  if (jsonStringify) serializeWithJsonStringify(app);
  app.get('/x', { schema }, async () => strayed);
  const res = await app.inject({ method: 'GET', url: '/x' });
  await app.close();
  assert.equal(res.statusCode, 200);
  return res.body;
}

describe('response serialization', () => {
  test("Fastify's default would alter the body (the hazard this decision avoids)", async () => {
    const body = JSON.parse(await bodyOf(false));
    assert.notDeepEqual(body, strayed);
    assert.equal('additive_field' in body, false);
  });

  test('the app sends exactly what the handler returned, whatever the schema says', async () => {
    assert.equal(await bodyOf(true), JSON.stringify(strayed));
  });

  test('the real app uses it for every route', async () => {
    const t = await startApp('sqlite');
    try {
      await t.app.ready();
      const compile = t.app.serializerCompiler;
      assert.ok(compile, 'a serializer compiler is set');
      const serialize = compile({ schema: schema.response[200], method: 'GET', url: '/x', httpStatus: '200' });
      assert.equal(serialize(strayed), JSON.stringify(strayed));
      const health = await t.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.body, JSON.stringify({ status: 'ok' }));
    } finally {
      await t.close();
    }
  });
});

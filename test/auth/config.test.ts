/**
 * The auth settings of the environment: token lifetimes (validated at start) and the defaults the
 * service runs with when they are unset.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_AUTH_SETTINGS } from '../../src/auth/auth-service.ts';
import { loadConfig } from '../../src/config.ts';

describe('WABAMETER_TOKEN_TTL and WABAMETER_REFRESH_TOKEN_TTL', () => {
  test('default to a day and thirty days, the service defaults too', () => {
    const c = loadConfig({});
    assert.equal(c.tokenTtl, 86400);
    assert.equal(c.refreshTokenTtl, 30 * 86400);
    assert.deepEqual(DEFAULT_AUTH_SETTINGS, { accessTokenTtl: 86400, refreshTokenTtl: 30 * 86400 });
  });

  test('take whole seconds, at least 60, refresh at least as long as access', () => {
    const c = loadConfig({ WABAMETER_TOKEN_TTL: '3600', WABAMETER_REFRESH_TOKEN_TTL: '7200' });
    assert.equal(c.tokenTtl, 3600);
    assert.equal(c.refreshTokenTtl, 7200);
    for (const bad of ['0', '59', '1.5', 'a day', '-3600']) {
      assert.throws(() => loadConfig({ WABAMETER_TOKEN_TTL: bad }), /WABAMETER_TOKEN_TTL/, bad);
    }
    assert.throws(() => loadConfig({ WABAMETER_TOKEN_TTL: '7200', WABAMETER_REFRESH_TOKEN_TTL: '3600' }), /WABAMETER_REFRESH_TOKEN_TTL/);
    // A long access lifetime lengthens the default refresh lifetime with it.
    assert.equal(loadConfig({ WABAMETER_TOKEN_TTL: String(60 * 86400) }).refreshTokenTtl, 60 * 86400);
  });
});

describe('REDIS_URL and WABAMETER_REDIS_PREFIX', () => {
  test('unset: no Redis (each process counts the balance limit alone), prefix wabameter:', () => {
    const c = loadConfig({});
    assert.equal(c.redisUrl, null);
    assert.equal(c.redisPrefix, 'wabameter:');
    assert.equal(loadConfig({ REDIS_URL: '  ' }).redisUrl, null);
  });

  test('takes redis:// and rediss:// URLs, credentials and database included', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis://cache', 'rediss://user:secret@cache.example:6380/2', 'redis://:pw@[::1]:6379/0']) {
      assert.equal(loadConfig({ REDIS_URL: url }).redisUrl, url);
    }
    assert.equal(loadConfig({ WABAMETER_REDIS_PREFIX: 'acme-prod:' }).redisPrefix, 'acme-prod:');
  });

  test('refuses anything else at start, without echoing a password', () => {
    for (const bad of ['127.0.0.1:6379', 'http://cache:6379', 'postgres://u:secret@db/x', 'redis://', 'not a url with secret']) {
      assert.throws(() => loadConfig({ REDIS_URL: bad }), (err: Error) => /^REDIS_URL/.test(err.message) && !err.message.includes('secret'), bad);
    }
    for (const bad of ['has space', 'x'.repeat(101), 'tab\there']) {
      assert.throws(() => loadConfig({ WABAMETER_REDIS_PREFIX: bad }), /WABAMETER_REDIS_PREFIX/, bad);
    }
  });
});

describe('WABAMETER_PROJECTOR', () => {
  test('where the meter runs: a worker thread by default, inline on request; anything else refused at start', () => {
    assert.equal(loadConfig({}).projector, 'thread');
    assert.equal(loadConfig({ WABAMETER_PROJECTOR: 'inline' }).projector, 'inline');
    assert.equal(loadConfig({ WABAMETER_PROJECTOR: ' thread ' }).projector, 'thread');
    for (const bad of ['worker', 'INLINE', 'off']) {
      assert.throws(() => loadConfig({ WABAMETER_PROJECTOR: bad }), new RegExp(`WABAMETER_PROJECTOR must be "thread" or "inline", got "${bad}"`), bad);
    }
  });
});

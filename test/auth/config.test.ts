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

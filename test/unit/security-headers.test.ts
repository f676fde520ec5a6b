import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { createServerBase } from '../../src/http/server-base.js';

describe('security headers', () => {
  it("sets helmet's headers, with the API's CSP, and the request id on every response including 404s", async () => {
    const app = createServerBase({ logger: pino({ level: 'silent' }), metrics: createMetrics() });
    app.get('/x', async () => ({ ok: true }));
    for (const url of ['/x', '/missing']) {
      const res = await app.inject({ url });
      expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
      expect(res.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
        'x-frame-options': 'SAMEORIGIN',
        'referrer-policy': 'no-referrer',
      });
      expect(res.headers['x-request-id']).toEqual(expect.any(String));
    }
    await app.close();
  });
});

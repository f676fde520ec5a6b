import { Agent, request } from 'undici';
import type { CaptchaConfig } from '../../domain/config.js';
import type { CaptchaVerdict, CaptchaVerifier } from '../../ports/captcha-verifier.js';

/** Largest siteverify answer read: they are a few hundred bytes. */
const MAX_ANSWER_BYTES = 16 * 1024;

interface SiteverifyAnswer {
  success?: unknown;
  score?: unknown;
}

/**
 * The providers' siteverify, which all three share: POST form `secret`, `response` (the
 * token), `remoteip`; the answer is JSON `{"success": bool, ...}`, with `score` for
 * reCAPTCHA v3. Its own connection pool, so a slow provider never takes CRM connections.
 */
export class HttpCaptchaVerifier implements CaptchaVerifier {
  private readonly agent = new Agent({ connections: 32, keepAliveTimeout: 10_000 });

  async verify(captcha: CaptchaConfig, token: string, remoteIp: string): Promise<CaptchaVerdict> {
    let answer: SiteverifyAnswer;
    try {
      const response = await request(captcha.verifyUrl, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ secret: captcha.secret, response: token, remoteip: remoteIp }).toString(),
        signal: AbortSignal.timeout(captcha.timeoutMs),
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        return 'unavailable';
      }
      const text = await readBounded(response.body);
      answer = JSON.parse(text) as SiteverifyAnswer;
    } catch {
      return 'unavailable';
    }
    if (typeof answer !== 'object' || answer === null || typeof answer.success !== 'boolean') return 'unavailable';
    if (!answer.success) return 'refused';
    if (captcha.minScore !== null && !(typeof answer.score === 'number' && answer.score >= captcha.minScore)) return 'refused';
    return 'passed';
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

async function readBounded(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) throw new Error('siteverify answer too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

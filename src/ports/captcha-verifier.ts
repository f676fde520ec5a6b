import type { CaptchaConfig } from '../domain/config.js';

/**
 * Server-side check of a captcha token with its provider's siteverify (Turnstile, hCaptcha,
 * reCAPTCHA). `unavailable`: the provider could not be asked or gave no usable answer within
 * the brand's timeout. Implemented by src/adapters/http/captcha-verifier.ts.
 */
export interface CaptchaVerifier {
  verify(captcha: CaptchaConfig, token: string, remoteIp: string): Promise<CaptchaVerdict>;
  close(): Promise<void>;
}

export type CaptchaVerdict = 'passed' | 'refused' | 'unavailable';

import { mapKey, text } from './common.js';

/** Attribution parameters: `utm_*` without the prefix, and click ids (gclid, fbclid, msclkid). */
const utm = { type: 'object', maxProperties: 10, propertyNames: mapKey, additionalProperties: text(200) } as const;

/** One visit that brought the person: its landing page, the page before it, its parameters, when (the page's clock). */
const touch = {
  type: 'object',
  additionalProperties: false,
  properties: { url: text(2048), referrer: text(2048), utm, at: text(64) },
} as const;

/**
 * `POST /v1/leads` body, as in CONTRACT.md. Every object closes with
 * `additionalProperties: false` and every string is bounded, so what passes is small and
 * predictable; normalisation (src/domain/normalise.ts) then trims and checks email and phone.
 */
export const leadBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['contact', 'service'],
  properties: {
    contact: {
      type: 'object',
      additionalProperties: false,
      properties: {
        first_name: text(100),
        last_name: text(100),
        email: text(254),
        phone: text(32),
        postal_code: text(16),
        city: text(100),
      },
      anyOf: [{ required: ['email'] }, { required: ['phone'] }],
    },
    service: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' },
    message: text(5000),
    consent: {
      type: 'object',
      additionalProperties: false,
      properties: {
        contact: { type: 'boolean' },
        marketing: { type: 'boolean' },
        text: text(1000),
        text_version: text(100),
      },
    },
    source: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: text(2048),
        form: text(100),
        referrer: text(2048),
        utm,
        // First and last visit with attribution (the browser embed keeps them 90 days): docs/brand-sites.md.
        first_touch: touch,
        last_touch: touch,
      },
    },
    meta: { type: 'object', maxProperties: 20, propertyNames: mapKey, additionalProperties: text(500) },
    // The page's bot traps (src/domain/bot-check.ts): checked, never stored or forwarded.
    bot: {
      type: 'object',
      additionalProperties: false,
      properties: {
        honeypot: { type: 'string', maxLength: 1000 },
        form_shown_at: { type: 'string', maxLength: 64 },
        captcha_token: { type: 'string', maxLength: 4096 },
      },
    },
  },
} as const;

import jsonata from 'jsonata';
import type { DestinationConfig } from './config.js';

/**
 * Destination `transform:` expressions (JSONata), compiled once when the worker starts and
 * evaluated per delivery on the default `lead.created` payload.
 *
 * Bounds (JSONata 2's own guardrails, checked at every evaluation step): a wall-clock budget
 * per evaluation, a maximum evaluation depth (runaway recursion) and a maximum sequence
 * length (e.g. `[1..100000000]`). A single built-in call (a regex, `$pad`) cannot be cut
 * short, so the result's encoded size is bounded as well. Whatever goes wrong, the caller
 * gets a fixed message (plus JSONata's error code), never the lead data JSONata may quote.
 */

export const TRANSFORM_LIMITS = {
  timeoutMs: 1_000,
  maxDepth: 500,
  maxSequence: 10_000,
  /** JSON length of the result. Leads are at most 64 KiB, so a bigger result is a broken expression. */
  maxResultChars: 1024 * 1024,
};

export type TransformLimits = typeof TRANSFORM_LIMITS;

export type TransformResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; error: string };

export interface Transforms {
  /** True when the destination has a `transform:`. */
  has(destinationId: string): boolean;
  /** Runs the destination's expression on the payload; never throws. */
  apply(destinationId: string, payload: unknown): Promise<TransformResult>;
}

type Compiled = { ok: true; expression: jsonata.Expression } | { ok: false };

export function compileTransforms(destinations: DestinationConfig[], limits: TransformLimits = TRANSFORM_LIMITS): Transforms {
  const compiled = new Map<string, Compiled>();
  for (const destination of destinations) {
    if (destination.transform === null) continue;
    try {
      compiled.set(destination.id, {
        ok: true,
        expression: jsonata(destination.transform, {
          timeout: limits.timeoutMs,
          stack: limits.maxDepth,
          sequence: limits.maxSequence,
        }),
      });
    } catch {
      // The config loader reports syntax errors at start; this only covers configs built in code.
      compiled.set(destination.id, { ok: false });
    }
  }
  return {
    has: (id) => compiled.has(id),
    async apply(id, payload) {
      const entry = compiled.get(id);
      if (!entry) return { ok: true, value: payload as Record<string, unknown> };
      if (!entry.ok) return { ok: false, error: 'transform does not compile' };
      return evaluate(entry.expression, payload, limits);
    },
  };
}

async function evaluate(expression: jsonata.Expression, payload: unknown, limits: TransformLimits): Promise<TransformResult> {
  let result: unknown;
  try {
    result = await expression.evaluate(payload);
  } catch (err) {
    const code = jsonataCode(err);
    if (code === 'D1012') return { ok: false, error: 'transform timed out' };
    return { ok: false, error: code === null ? 'transform failed' : `transform failed (${code})` };
  }
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    return { ok: false, error: 'transform result is not an object' };
  }
  // A JSON round trip gives both formats the same plain value: no functions, no undefined,
  // no JSONata sequence flags.
  let json: string;
  try {
    json = JSON.stringify(result);
  } catch {
    return { ok: false, error: 'transform result is not JSON' };
  }
  if (json.length > limits.maxResultChars) return { ok: false, error: 'transform result too large' };
  return { ok: true, value: JSON.parse(json) as Record<string, unknown> };
}

/** JSONata errors carry a code such as T2001 or D1012: a fixed vocabulary, safe to keep. */
function jsonataCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z]\d{4}$/.test(code) ? code : null;
}

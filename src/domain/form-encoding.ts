/**
 * `application/x-www-form-urlencoded` bodies for older CRMs (`format: form`).
 *
 * Flattening, chosen for PHP/Laravel-era back ends (PHP's own parser rebuilds the nesting):
 * - nested objects use bracket keys: `{contact: {email: "a@b.fr"}}` → `contact[email]=a%40b.fr`;
 * - an array of scalars repeats its key: `{tags: ["a", "b"]}` → `tags=a&tags=b`;
 * - an array element that is itself an object or array gets its index:
 *   `{items: [{sku: "x"}]}` → `items[0][sku]=x`;
 * - strings as they are, numbers as JavaScript prints them, booleans as `true` / `false`,
 *   null as an empty value (`key=`); an empty object or array sends nothing.
 * Encoding is the WHATWG one (URLSearchParams): UTF-8, space as `+`, brackets as `%5B`/`%5D`.
 * Keys keep their order of appearance, so the body is deterministic byte for byte.
 */

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

export function encodeForm(value: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [key, child] of Object.entries(value)) append(params, key, child);
  return params.toString();
}

function append(params: URLSearchParams, key: string, value: unknown): void {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return;
  if (value === null) {
    params.append(key, '');
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (item !== null && typeof item === 'object') append(params, `${key}[${i}]`, item);
      else append(params, key, item);
    });
    return;
  }
  if (typeof value === 'object') {
    for (const [childKey, child] of Object.entries(value as Record<string, unknown>)) {
      append(params, `${key}[${childKey}]`, child);
    }
    return;
  }
  params.append(key, String(value as string | number | boolean | bigint));
}

/** A bad setting or config file: every problem names its key. Printed one per line, exit 78. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** EX_CONFIG from sysexits.h: what deploy scripts expect from a bad configuration. */
export const EXIT_CONFIG = 78;

/** `brands[0].api_keys[1]` from a zod-style path. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

import type { Env } from '../config/env.js';
import { loadConfigFile, resolveConfigPath } from '../config/load-config.js';

/** `leadgate config check [file]`: throws ConfigError (exit 78) naming every problem. */
export function configCheck(env: Env, file: string | undefined): number {
  const path = file ?? resolveConfigPath(env.LEADGATE_CONFIG).path;
  const config = loadConfigFile(path);
  console.log(
    `${path}: ok (${config.brands.length} brands, ${config.destinations.length} destinations, ${config.routes.length} routes)`,
  );
  return 0;
}

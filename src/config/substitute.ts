/**
 * `${VAR}` and `${VAR:-default}` in config strings, read from the environment. Done on the
 * parsed YAML tree (not the text) so a variable's value can never change the file's structure.
 */
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface SubstitutionProblem {
  path: (string | number)[];
  variable: string;
}

export function substituteEnv(
  node: unknown,
  env: NodeJS.ProcessEnv,
  problems: SubstitutionProblem[],
  path: (string | number)[] = [],
): unknown {
  if (typeof node === 'string') {
    return node.replace(PLACEHOLDER, (_match, name: string, fallback: string | undefined) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      problems.push({ path, variable: name });
      return '';
    });
  }
  if (Array.isArray(node)) return node.map((item, i) => substituteEnv(item, env, problems, [...path, i]));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, substituteEnv(value, env, problems, [...path, key])]),
    );
  }
  return node;
}

/** Config files for end-to-end tests: one brand, destinations pointing at fake CRMs. */

export const API_KEY = 'e2e-key-merciplus-0123456789';
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef012345';
export const SIGNING_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

export interface E2eDestination {
  id: string;
  url: string;
  delays?: string[];
  /** Raw YAML keys added to the destination, indented by 4 (e.g. `circuit_breaker: {failures: 2}`). */
  extra?: string[];
  services?: string[];
}

export function e2eConfig(destinations: E2eDestination[]): string {
  const dest = destinations
    .map(
      (d) => `  - id: ${d.id}
    url: "${d.url}"
    timeout_ms: 2000
    signing_secret: "${SIGNING_SECRET}"
    retry:
      delays: ${JSON.stringify(d.delays ?? ['50ms', '100ms', '100ms'])}${(d.extra ?? []).map((line) => `\n    ${line}`).join('')}`,
    )
    .join('\n');
  const routes = destinations
    .map((d) => `  - brands: ["*"]\n    services: ${JSON.stringify(d.services ?? ['*'])}\n    destinations: [${d.id}]`)
    .join('\n');
  return `brands:
  - id: merciplus
    api_keys: ["${API_KEY}"]
    allowed_origins: ["https://www.merci-plus.example"]
    default_country: FR
destinations:
${dest}
routes:
${routes}
`;
}

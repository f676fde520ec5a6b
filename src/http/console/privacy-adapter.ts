import { identityHash } from '../../domain/fingerprint.js';
import { normaliseIdentifier, type PersonRequest } from '../../privacy/identifier.js';
import { erasureStatus, exportPerson, requestErasure, type PrivacyDeps } from '../../privacy/requests.js';
import type { ConsoleDeps, ConsolePrivacy } from './kit.js';

/** The console's actor in the privacy audit records (the admin API's is `admin-token`). */
const ACTOR = 'console';

/** One field typed in the console, as the privacy use cases take it: an email if it has an '@', else a phone. */
export function personRequest(identifier: string, brand?: string): PersonRequest {
  const value = identifier.trim();
  const person: PersonRequest = value.includes('@') ? { email: value } : { phone: value };
  return brand === undefined || brand === '' ? person : { ...person, brand };
}

/**
 * The console's person search and privacy screen over the privacy use cases
 * (src/privacy/requests.ts): same normalisation, keyed hash and audit records as the admin API.
 */
export function consolePrivacyOf(
  deps: PrivacyDeps,
  onErasureRequested: (() => void) | undefined,
): Required<Pick<ConsoleDeps, 'findLeadsByPerson' | 'privacy'>> {
  const privacy: ConsolePrivacy = {
    check(identifier, brand) {
      const parsed = normaliseIdentifier(deps.config, personRequest(identifier, brand));
      return parsed.ok ? { kind: 'ok', key: `${parsed.identifier.kind}:${parsed.identifier.value}` } : { kind: 'invalid', path: parsed.path, message: parsed.message };
    },
    exportPerson: (identifier, brand) => exportPerson(deps, personRequest(identifier, brand), ACTOR),
    async erasePerson(identifier, brand) {
      const result = await requestErasure(deps, personRequest(identifier, brand), ACTOR);
      if (result.kind === 'accepted') onErasureRequested?.();
      return result;
    },
    erasureStatus: (id) => erasureStatus(deps, id),
  };
  return {
    async findLeadsByPerson(identifier) {
      const parsed = normaliseIdentifier(deps.config, personRequest(identifier));
      if (!parsed.ok) return { kind: 'invalid', path: parsed.path, message: parsed.message };
      return { kind: 'ok', leads: await deps.store.findLeadsByIdentity([identityHash(deps.hasher, parsed.identifier)]) };
    },
    privacy,
  };
}

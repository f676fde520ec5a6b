import { createPrivacyHasher } from '../../src/domain/fingerprint.js';

/** The privacy key of tests (LEADGATE_PRIVACY_KEY in a deployment). */
export const TEST_PRIVACY_KEY = 'test-privacy-key-0123456789abcdef0123';
export const testHasher = createPrivacyHasher(TEST_PRIVACY_KEY);

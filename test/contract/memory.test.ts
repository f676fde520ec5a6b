import { MemoryStore } from '../helpers/memory-store.js';
import { describeLeadStoreContract } from './lead-store.contract.js';
import { describeLeadStoreOpsContract } from './lead-store-ops.contract.js';

// The in-memory fake used by HTTP tests must behave like a real store, or those tests lie.
describeLeadStoreContract('memory (test fake)', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));
describeLeadStoreOpsContract('memory (test fake)', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

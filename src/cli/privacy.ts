import { parseArgs } from 'node:util';
import type { Env } from '../config/env.js';
import { loadConfig, withBackends } from '../container.js';
import { createLogger } from '../observability/logger.js';
import { runErasure } from '../privacy/erasure-runner.js';
import { erasureStatus, exportPerson, requestErasure, type PrivacyDeps } from '../privacy/requests.js';
import { UsageError } from './usage-error.js';

/**
 * `leadgate privacy export --email|--phone <v> [--brand <id>]`: prints the export as
 * POST /v1/privacy/exports answers it. `leadgate privacy erase ...`: records the erasure and
 * runs it here to the end (a worker running the same one meanwhile is harmless), then prints
 * its status; the `lead.erased` notices are sent by the workers.
 */
export async function privacy(env: Env, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'export' && action !== 'erase') throw new UsageError('privacy needs export or erase');
  const request = parsePersonArgs(rest);
  const { config } = loadConfig(env);
  // The audit lines go to stderr: stdout is the export itself.
  const logger = createLogger(env.LOG_LEVEL, process.stderr);
  return withBackends(env, async (store, queue, hasher) => {
    const deps: PrivacyDeps = { config, store, hasher, logger, now: Date.now };
    if (action === 'export') {
      const result = await exportPerson(deps, request, 'cli');
      if (result.kind === 'invalid') throw new UsageError(`${result.path || 'identifier'}: ${result.message}`);
      console.log(JSON.stringify(result.body, null, 2));
      return 0;
    }
    const result = await requestErasure(deps, request, 'cli');
    if (result.kind === 'invalid') throw new UsageError(`${result.path || 'identifier'}: ${result.message}`);
    const erasure = await store.getErasure(result.id);
    if (erasure) await runErasure({ store, queue, logger, now: Date.now, batchSize: env.LEADGATE_ERASURE_BATCH_SIZE }, erasure);
    console.log(JSON.stringify(await erasureStatus(deps, result.id), null, 2));
    return 0;
  });
}

function parsePersonArgs(args: string[]): { email?: string; phone?: string; brand?: string } {
  try {
    const { values } = parseArgs({ args, options: { email: { type: 'string' }, phone: { type: 'string' }, brand: { type: 'string' } } });
    if ((values.email === undefined) === (values.phone === undefined)) throw new UsageError('give one of --email or --phone');
    return values;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
}

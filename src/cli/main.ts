import { ConfigError, EXIT_CONFIG } from '../config/config-error.js';
import { loadEnv } from '../config/env.js';
import { configCheck } from './config-check.js';
import { destination } from './destination.js';
import { leadShow } from './lead-show.js';
import { migrate } from './migrate.js';
import { privacy } from './privacy.js';
import { replay } from './replay.js';
import { runServer } from './serve.js';
import { UsageError } from './usage-error.js';

const USAGE = `usage: leadgate <command>

  serve [--demo]        api and worker in one process; --demo runs the bundled example
                        when there is no config file (what npm start runs)
  api                   the HTTP api only
  worker                the delivery worker only
  migrate               create or upgrade the store and queue, idempotently
  config check [file]   validate a config file (default: LEADGATE_CONFIG, else ./leadgate.yaml)
  lead show <id>        a lead, its deliveries and every attempt
  replay --delivery <id>
  replay --destination <id> [--status dead] [--since <ISO>] [--until <ISO>]
  destination pause <id>     hold a destination's deliveries (no attempt spent), cluster-wide
  destination resume <id>    let them flow again
  privacy export --email|--phone <v> [--brand <id>]   every lead of a person, as JSON (GDPR art. 15)
  privacy erase --email|--phone <v> [--brand <id>]    erase them and notify the CRMs (art. 17, 19)

Settings come from the environment: see README.md.`;

/** EX_USAGE from sysexits.h. */
const EXIT_USAGE = 64;

/** Runs one command; resolves with the exit code (long-running commands resolve once started). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const demo = rest[0] === '--demo';
        if (rest.length > (demo ? 1 : 0)) break;
        await runServer(loadEnv(), { api: true, worker: true }, { demo });
        return 0;
      }
      case 'api':
      case 'worker':
        // --demo is serve's alone: a split deployment is never a demo.
        if (rest.length > 0) break;
        await runServer(loadEnv(), { api: command === 'api', worker: command === 'worker' });
        return 0;
      case 'migrate':
        return await migrate(loadEnv());
      case 'config':
        if (rest[0] !== 'check') break;
        return configCheck(loadEnv(), rest[1]);
      case 'lead':
        if (rest[0] !== 'show' || !rest[1]) break;
        return await leadShow(loadEnv(), rest[1]);
      case 'replay':
        return await replay(loadEnv(), rest);
      case 'destination':
        return await destination(loadEnv(), rest);
      case 'privacy':
        return await privacy(loadEnv(), rest);
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return 0;
    }
    console.error(USAGE);
    return EXIT_USAGE;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) console.error(`leadgate: ${problem}`);
      return EXIT_CONFIG;
    }
    if (err instanceof UsageError) {
      console.error(`leadgate: ${err.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    // A start-up failure (data dir not writable, port in use): one line, no stack trace.
    const code = (err as NodeJS.ErrnoException).code;
    console.error(`leadgate: ${(err as Error).message}${code ? ` (${code})` : ''}`);
    return 1;
  }
}

import { randomUUID } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';

export const FAUXQS_REGION = 'eu-west-1';

export interface Fauxqs {
  endpoint: string;
  /** The emulator itself, for inspecting queues. */
  server: FauxqsServer;
  /** A new client on the emulator; whoever takes it destroys it (a queue's close() does). */
  client(): SQSClient;
  /** Creates a queue (a unique name when none is given) and returns its url. */
  createQueue(name?: string): string;
  stop(): Promise<void>;
}

/** An in-process SQS emulator on a free port, one per test file: nothing shared between files. */
export async function startFauxqsServer(): Promise<Fauxqs> {
  const server = await startFauxqs({ port: 0, logger: false, defaultRegion: FAUXQS_REGION });
  const endpoint = `http://127.0.0.1:${server.port}`;
  return {
    endpoint,
    server,
    client: () =>
      new SQSClient({
        region: FAUXQS_REGION,
        endpoint,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      }),
    createQueue: (name = `q-${randomUUID()}`) => server.createQueue(name, { region: FAUXQS_REGION }).queueUrl,
    stop: () => server.stop(),
  };
}

export interface SentCommand {
  name: string;
  input: Record<string, any>;
  at: number;
  /** How the call ended: 'ok', or the name of the error it failed with (e.g. 'AbortError'). */
  outcome: Promise<string>;
}

export interface ClientTap {
  /** Every command the client sent, oldest first (including those the cut refused). */
  sent: SentCommand[];
  /** Called for each command as it is sent. */
  onSend(listener: (command: SentCommand) => void): void;
  /** From now on every command fails before reaching the network, as for a process cut off or killed. */
  cut(): void;
  restore(): void;
  /** Rewrites the next response of the named command (fault injection on a real answer). */
  rewriteNext(name: string, rewrite: (output: any) => any): void;
}

/** Watches a client's commands and can cut it off, through the SDK's own middleware stack. */
export function tapClient(client: SQSClient): ClientTap {
  const listeners: Array<(command: SentCommand) => void> = [];
  const rewrites = new Map<string, (output: any) => any>();
  let cut = false;
  const tap: ClientTap = {
    sent: [],
    onSend: (listener) => listeners.push(listener),
    cut: () => (cut = true),
    restore: () => (cut = false),
    rewriteNext: (name, rewrite) => rewrites.set(name, rewrite),
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      let settle!: (outcome: string) => void;
      const outcome = new Promise<string>((resolve) => (settle = resolve));
      const command: SentCommand = { name: context.commandName ?? '?', input: args.input as any, at: Date.now(), outcome };
      tap.sent.push(command);
      for (const listener of listeners) listener(command);
      if (cut) {
        settle('SimulatedNetworkError');
        throw Object.assign(new Error('simulated network cut'), { name: 'SimulatedNetworkError' });
      }
      const result = await next(args).then(
        (ok) => (settle('ok'), ok),
        (error: unknown) => {
          settle((error as Error | null)?.name ?? 'unknown');
          throw error;
        },
      );
      const rewrite = rewrites.get(command.name);
      if (!rewrite) return result;
      rewrites.delete(command.name);
      return { ...result, output: rewrite(result.output) };
    },
    // Before retries and signing: a cut command fails once, at once, like a refused connection.
    { step: 'initialize', name: 'testTap' },
  );
  return tap;
}

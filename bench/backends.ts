import { startCluster } from '../test/helpers/cluster.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../test/helpers/leadgate-process.js';

/** One backend pair to measure: how to start leadgate processes on it, and how to tear it down. */
export interface Backend {
  name: string;
  /** Emulators (DynamoDB Local, fauxqs) make a figure indicative only. */
  indicative: boolean;
  start(command: 'api' | 'worker' | 'serve', extraEnv?: Record<string, string>): Promise<LeadgateProcess>;
  close(): Promise<void>;
}

export type BackendKind = 'sqlite' | 'bullmq+dynamodb' | 'sqs+dynamodb';

export async function openBackend(kind: BackendKind, baseEnv: Record<string, string>): Promise<Backend> {
  if (kind === 'sqlite') {
    const workspace = makeWorkspace('');
    const processes: LeadgateProcess[] = [];
    return {
      name: 'sqlite (store + queue)',
      indicative: false,
      async start(command, extraEnv = {}) {
        const env = { ...baseEnv, LEADGATE_DATA_DIR: workspace.dataDir, ...extraEnv };
        const p = await startLeadgate(command, env, { keepLogs: false });
        processes.push(p);
        return p;
      },
      async close() {
        for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
        await Promise.all(processes.map((p) => p.exited));
        workspace.cleanup();
      },
    };
  }
  const cluster = await startCluster(kind === 'sqs+dynamodb' ? 'sqs' : 'bullmq', baseEnv);
  return {
    name: kind === 'sqs+dynamodb' ? 'sqs on fauxqs + dynamodb on DynamoDB Local' : 'bullmq on redis-server + dynamodb on DynamoDB Local',
    indicative: true,
    start: (command, extraEnv) => cluster.start(command, extraEnv, { keepLogs: false }),
    close: () => cluster.close(),
  };
}

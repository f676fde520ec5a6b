import type { BackendKind } from './backends.js';
import type { E2eResult } from './sender.js';
import type { OutageFigures, RandomFailureFigures, RetryAfterFigures } from './half-failures.js';

/** The shape of bench/results.json and bench/history.json. */

/** One autocannon run, as kept. */
export interface LoadFigures {
  reqPerSec: number;
  total: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  durationS: number;
}

export interface BackendResult {
  kind: BackendKind;
  backend: string;
  /** On emulators (DynamoDB Local, fauxqs): says how leadgate behaves, not what AWS would give. */
  indicative: boolean;
  plan: {
    seconds: number;
    fixedRate: number;
    e2eRate: number;
    backlog: number | null;
    drainLimitS: number;
    e2eSettleS: number;
    connections: number;
    warmupSeconds: number;
  };
  /** `leadgate api` and the ceiling, autocannon at 50 connections, same duration, one after the other. */
  ingest: {
    seconds: number;
    connections: number;
    leadgate: LoadFigures;
    ceiling: LoadFigures;
    ratio: number;
    /** CPU (user + system, all threads) of the process during the run ÷ requests it answered. */
    leadgateCpuUsPerRequest?: number;
    ceilingCpuUsPerRequest?: number;
  };
  /** Both at a fixed overall rate (autocannon -R, coordinated omission corrected). */
  fixedRate: { rate: number; seconds: number; connections: number; leadgate: LoadFigures; ceiling: LoadFigures };
  drain: {
    backlog: number;
    backlogSource: string;
    build: LoadFigures | null;
    /** autocannon straight at the loopback CRM: what it takes on its own. */
    crmCeiling: LoadFigures;
    workerConcurrency: number;
    /** Spawn → `leadgate started`. */
    workerReadyS: number;
    /** Distinct webhook ids the CRM received. */
    delivered: number;
    /** Requests the CRM received (more than `delivered` if some came twice). */
    requests: number;
    complete: boolean;
    limitS: number;
    /** Worker spawn → the CRM received the last delivery (or the limit). */
    drainS: number;
    /** Delivered / (last receipt − first receipt): the worker's steady rate. */
    deliveriesPerSec: number;
    /** Delivered / drainS (start-up included). */
    deliveriesPerSecFromSpawn: number;
    /** The worker's CPU from spawn to the last receipt ÷ delivered (start-up included). */
    cpuUsPerDelivery?: number | null;
  };
  endToEnd: E2eResult & { processes: string };
  rss: {
    apiIdleMb: number;
    apiLoadedMb: number;
    workerIdleMb: number;
    workerLoadedMb: number;
    serveIdleMb?: number;
    serveLoadedMb?: number;
    e2eApiLoadedMb?: number;
    e2eWorkerLoadedMb?: number;
    ceilingLoadedMb: number;
  };
  notes: string[];
}

export type TargetKey = 'ingestRatio' | 'p99AtFixedRate' | 'deliveriesPerSec' | 'e2eP99' | 'drainS' | 'rssLoaded';

/** Issue 7, point 3: targets on the embedded default (sqlite), on this 2-core machine. */
export const TARGETS: { key: TargetKey; label: string; threshold: number; direction: 'min' | 'max'; unit: string }[] = [
  { key: 'ingestRatio', label: 'ingest ≥ 50 % of the ceiling (same run, 50 connections)', threshold: 0.5, direction: 'min', unit: '' },
  { key: 'p99AtFixedRate', label: 'p99 ≤ 20 ms at 2,000 req/s', threshold: 20, direction: 'max', unit: 'ms' },
  { key: 'deliveriesPerSec', label: '≥ 8,000 deliveries/s per worker process', threshold: 8000, direction: 'min', unit: '/s' },
  { key: 'e2eP99', label: 'end-to-end p99 ≤ 100 ms at 1,000 leads/s', threshold: 100, direction: 'max', unit: 'ms' },
  { key: 'drainS', label: '100,000 backlog drained in ≤ 30 s', threshold: 30, direction: 'max', unit: 's' },
  { key: 'rssLoaded', label: 'RSS ≤ 150 MB loaded (every process)', threshold: 150, direction: 'max', unit: 'MB' },
];

export interface TargetResult {
  key: TargetKey;
  label: string;
  threshold: number;
  direction: 'min' | 'max';
  unit: string;
  value: number | null;
  met: boolean;
  detail: string;
}

/** Issue 13: the whole job (ingest + delivery) and CRMs that half-fail, each beside its goal. */
export interface Issue13Result {
  seconds: number;
  connections: number;
  ceiling: LoadFigures;
  /** `leadgate serve` under autocannon: leads accepted, and delivered to the CRM. */
  serve: { accepted: number; delivered: number; wholeJobS: number; wholeJobPerSec: number; ingest: LoadFigures };
  /** serve's whole-job rate ÷ the ceiling's req/s; goal ≥ 0.25. */
  wholeJobRatio: number;
  /** Node-RED 4 running bench/node-red/flow.json: its 2xx come after the CRM's answer. */
  nodeRed: { load: LoadFigures; delivered: number } | null;
  /** serve's whole-job rate ÷ Node-RED's; goal ≥ 3. */
  vsNodeRed: number | null;
  randomFailures: RandomFailureFigures;
  /** The same with the breaker as before issue 13 (5 failures in a row, 30 s): the baseline. */
  randomFailuresBefore: RandomFailureFigures | null;
  outage: OutageFigures | null;
  retryAfter: RetryAfterFigures;
  goals: Array<{ label: string; figure: string; met: boolean }>;
}

export interface Results {
  machine: {
    date: string;
    node: string;
    cpus: string;
    memoryGb: number;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  command: string;
  commit: string;
  uncommittedSrcChanges: boolean;
  settings: { seconds: number; emulatedSeconds: number; backlog: number; workerConcurrency: number; connections: number; warmupSeconds: number };
  /** The bench process's own duration (the build before it not included). */
  wallSeconds: number;
  targets: TargetResult[];
  results: BackendResult[];
  /** Backends whose measurement failed: the error, the others still measured. */
  failures: { kind: BackendKind; error: string }[];
  issue13?: Issue13Result | null;
}

/** One line per run in bench/history.json: the headline figures, for before/after. */
export interface HistoryEntry {
  date: string;
  /** `git rev-parse --short HEAD`, `+` when src/ had uncommitted changes. */
  commit: string;
  backends: string;
  seconds: number;
  loadAverageAtStart: number;
  sqlite: {
    ingestReqPerSec: number;
    ceilingReqPerSec: number;
    ratio: number;
    p99AtFixedRateMs: number;
    deliveriesPerSec: number;
    e2eP99Ms: number;
    drainS: number | null;
    backlog: number;
    rssLoadedMaxMb: number;
  } | null;
  targetsMet: string;
}

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Pool } from 'undici';
import { percentile, round, sleep, type Crm } from './support.js';

/**
 * End-to-end latency: this process sends leads at a fixed rate (open loop: a slow answer does
 * not delay the next send) with its own keep-alive undici Pool, records when each 202 arrived
 * per lead id, and the loopback CRM (also in this process, same clock) records when each
 * `data.id` arrived. The figures are over leads: CRM receipt − 202 received.
 */

export interface E2eOptions {
  baseUrl: string;
  apiKey: string;
  lead: unknown;
  crm: Crm;
  rate: number;
  /** Sent at the same rate before the measured window; not counted. */
  warmupSeconds: number;
  seconds: number;
  /** After the last send, the longest wait for the CRM to receive every accepted lead. */
  settleTimeoutMs: number;
}

export interface E2eResult {
  targetRate: number;
  seconds: number;
  /** Leads sent in the measured window / its length: shows whether the sender kept up. */
  achievedSendRate: number;
  /** 202s received for measured leads / window length. */
  achieved202Rate: number;
  /** How late the sender fired against its schedule (ms): p99 and max. */
  senderLagP99Ms: number;
  senderLagMaxMs: number;
  /** This process's event-loop delay during the run (ms): it hosts the sender and the CRM. */
  benchLoopDelayP99Ms: number;
  /** Every lead sent, warm-up included. */
  sent: number;
  /** Every 202, warm-up included. */
  accepted: number;
  /** 202s for leads sent in the measured window: what the percentiles are over. */
  measuredLeads: number;
  non202: number;
  errors: number;
  /** Accepted leads the CRM had not received when the wait ended. */
  missing: number;
  /** Client side: send → 202 (ms). */
  ingestP50Ms: number;
  ingestP99Ms: number;
  /** 202 received → CRM receipt (ms), over measured leads. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  minMs: number;
}

export async function runEndToEnd(options: E2eOptions): Promise<E2eResult> {
  const { crm, rate } = options;
  const url = new URL(options.baseUrl);
  const pool = new Pool(url.origin, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 });
  const body = JSON.stringify(options.lead);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${options.apiKey}` };
  crm.reset({ leads: true });

  const acceptedAt = new Map<string, number>();
  const measured = new Set<string>();
  const ingestLatencies: number[] = [];
  const lags: number[] = [];
  let non202 = 0;
  let errors = 0;
  let sentMeasured = 0;
  let acceptedMeasured = 0;
  const inFlight = new Set<Promise<void>>();

  const fire = (counted: boolean) => {
    const sentAt = performance.now();
    const request = pool
      .request({ path: '/v1/leads', method: 'POST', headers, body })
      .then(async (res) => {
        const text = await res.body.text();
        const at = performance.now();
        if (res.statusCode !== 202) {
          non202++;
          return;
        }
        const id = (JSON.parse(text) as { id: string }).id;
        acceptedAt.set(id, at);
        if (counted) {
          measured.add(id);
          acceptedMeasured++;
          ingestLatencies.push(at - sentAt);
        }
      })
      .catch(() => {
        errors++;
      });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  };

  const loop = monitorEventLoopDelay({ resolution: 5 });
  const warmupMs = options.warmupSeconds * 1000;
  const totalMs = warmupMs + options.seconds * 1000;
  const start = performance.now();
  let sent = 0;
  let measuredStart = 0;
  let measuredEnd = 0;
  try {
    for (;;) {
      const elapsed = performance.now() - start;
      if (elapsed >= totalMs) break;
      if (measuredStart === 0 && elapsed >= warmupMs) {
        measuredStart = performance.now();
        loop.enable();
      }
      const due = Math.floor((elapsed * rate) / 1000);
      while (sent < due) {
        const scheduledAt = start + (sent * 1000) / rate;
        const counted = scheduledAt - start >= warmupMs;
        if (counted) {
          lags.push(performance.now() - scheduledAt);
          sentMeasured++;
        }
        fire(counted);
        sent++;
      }
      await sleep(1);
    }
    measuredEnd = performance.now();
    await Promise.all([...inFlight]);
    loop.disable();
    const measuredAccepted = [...measured];
    const allThere = () => measuredAccepted.every((id) => crm.receivedAt.has(id));
    const deadline = performance.now() + options.settleTimeoutMs;
    while (!allThere() && performance.now() < deadline) await sleep(50);
  } finally {
    await pool.close();
  }

  const windowS = (measuredEnd - measuredStart) / 1000;
  const latencies: number[] = [];
  let missing = 0;
  for (const id of measured) {
    const received = crm.receivedAt.get(id);
    if (received === undefined) missing++;
    else latencies.push(received - acceptedAt.get(id)!);
  }
  latencies.sort((a, b) => a - b);
  ingestLatencies.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return {
    targetRate: rate,
    seconds: options.seconds,
    achievedSendRate: Math.round(sentMeasured / windowS),
    achieved202Rate: Math.round(acceptedMeasured / windowS),
    senderLagP99Ms: round(percentile(lags, 99)),
    senderLagMaxMs: round(lags.at(-1) ?? Number.NaN),
    benchLoopDelayP99Ms: round(loop.percentile(99) / 1e6),
    sent,
    accepted: acceptedAt.size,
    measuredLeads: measured.size,
    non202,
    errors,
    missing,
    ingestP50Ms: round(percentile(ingestLatencies, 50)),
    ingestP99Ms: round(percentile(ingestLatencies, 99)),
    p50Ms: round(percentile(latencies, 50)),
    p90Ms: round(percentile(latencies, 90)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? Number.NaN),
    minMs: round(latencies[0] ?? Number.NaN),
  };
}

// Ingest throughput of `leadgate serve` on the embedded default: autocannon, 50 connections,
// 10 s, the contract's example lead. The worker runs in the same process and delivers to a
// loopback CRM meanwhile, as it would in production.
import { API_KEY, EXAMPLE_LEAD, autocannon, rssMb, startCrm, startLeadgate, workspace } from './lib.mjs';

const connections = Number(process.env.CONNECTIONS ?? 50);
const duration = Number(process.env.DURATION ?? 10);

const crm = await startCrm();
const ws = workspace(crm.url);
const command = process.env.COMMAND ?? 'serve';
const leadgate = await startLeadgate(command, { LEADGATE_CONFIG: ws.configPath, LEADGATE_DATA_DIR: ws.dataDir });
try {
  const idleRss = await rssMb(leadgate.pid);
  const common = [
    '-m', 'POST',
    '-H', 'content-type=application/json',
    '-H', `authorization=Bearer ${API_KEY}`,
    '-b', JSON.stringify(EXAMPLE_LEAD),
  ];
  await autocannon(['-c', String(connections), '-d', '2', ...common, `${leadgate.url}/v1/leads`]); // warm-up
  const result = await autocannon(['-c', String(connections), '-d', String(duration), ...common, `${leadgate.url}/v1/leads`]);
  const loadedRss = await rssMb(leadgate.pid);
  const summary = {
    scenario: `ingest sqlite (${command})`,
    connections,
    durationSec: duration,
    requests: result.requests.total,
    reqPerSec: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    delivered: crm.received(),
    rssMb: { idle: idleRss, loaded: loadedRss },
  };
  console.log(JSON.stringify(summary, null, 2));
} finally {
  await leadgate.stop();
  await crm.close();
  ws.cleanup();
}

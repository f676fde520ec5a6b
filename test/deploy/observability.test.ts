import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { ROOT, hasCommand, parseYaml, readRepoFile, run } from './helpers.js';

// deploy/grafana/leadgate.json and deploy/prometheus/alerts.yml may only query metrics that
// leadgate exports: the ones src/observability/metrics.ts defines, prom-client's default
// process metrics (registered there too), and Prometheus' own `up`.

const metrics = createMetrics();
const known = new Map<string, { type: string; labelNames: string[] }>();
for (const metric of await metrics.registry.getMetricsAsJSON()) {
  const single = metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] } | undefined;
  known.set(metric.name, { type: String(metric.type), labelNames: single?.labelNames ?? [] });
}
const SCRAPE_LABELS = ['job', 'instance'];
const PROMQL_WORDS = new Set([
  'sum', 'max', 'min', 'avg', 'count', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless',
  'rate', 'irate', 'increase', 'delta', 'deriv', 'histogram_quantile', 'absent', 'label_values', 'offset', 'bool', 'topk', 'bottomk',
]);

/** Metric names a PromQL expression selects (identifiers that are neither functions, keywords, labels nor strings). */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]');
  const withoutGroupings = withoutStrings.replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const match of withoutGroupings.matchAll(/(?<![\w$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\(?)/g)) {
    const [, name, call] = match;
    if (call || PROMQL_WORDS.has(name!) || /^\d/.test(name!)) continue;
    names.add(name!);
  }
  return [...names];
}

/** The exported metric a selected series belongs to (histograms export _bucket, _sum, _count). */
function baseMetric(name: string): string | undefined {
  if (known.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return known.get(base)?.type === 'histogram' || known.get(base)?.type === 'summary' ? base : undefined;
}

/** Label names used in `metric{...}` selectors. */
function selectorLabels(expr: string): Array<[string, string[]]> {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map(([, name, body]) => [
    name!,
    [...body!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!),
  ]);
}

function checkExpression(where: string, expr: string) {
  const names = metricNames(expr);
  expect(names.length, `${where}: selects a metric`).toBeGreaterThan(0);
  for (const name of names) {
    if (name === 'up') continue;
    expect(baseMetric(name), `${where}: ${name} is not exported by leadgate`).toBeDefined();
  }
  for (const [name, labels] of selectorLabels(expr)) {
    const base = baseMetric(name);
    if (!base || !base.startsWith('leadgate_')) continue;
    const allowed = [...known.get(base)!.labelNames, ...SCRAPE_LABELS, ...(name.endsWith('_bucket') ? ['le'] : [])];
    for (const label of labels) expect(allowed, `${where}: ${name} has no label ${label}`).toContain(label);
  }
}

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readRepoFile('deploy/grafana/leadgate.json'));
  const panels = (dashboard.panels as any[]).filter((p) => p.type !== 'row');
  const exprs = panels.flatMap((p) => (p.targets as any[]).map((t) => ({ title: p.title as string, expr: t.expr as string })));

  it('picks its Prometheus through a datasource variable', () => {
    const variable = dashboard.templating.list.find((v: any) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const target of panel.targets) expect(target.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it('queries only metrics and labels leadgate exports', () => {
    expect(exprs.length).toBeGreaterThan(0);
    for (const { title, expr } of exprs) checkExpression(title, expr);
    for (const variable of dashboard.templating.list.filter((v: any) => v.type === 'query')) {
      checkExpression(`variable ${variable.name}`, variable.definition.replace(/^label_values\((.*),\s*\w+\)$/, '$1'));
    }
  });

  it('has the panels ops need', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const needed of [
      'leadgate_leads_accepted_total',
      'leadgate_leads_rejected_total',
      'histogram_quantile(0.99, sum by (le) (rate(leadgate_http_request_duration_seconds_bucket',
      'sum by (destination, outcome) (rate(leadgate_deliveries_total',
      'leadgate_deliveries_pending',
      'leadgate_oldest_pending_delivery_age_seconds',
      'leadgate_deliveries_dead',
      'leadgate_circuit_breaker_state',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(all).toContain(needed);
    }
    const breaker = panels.find((p) => p.targets.some((t: any) => t.expr.includes('leadgate_circuit_breaker_state')));
    expect(breaker.fieldConfig.defaults.mappings[0].options).toMatchObject({ 0: { text: 'closed' }, 1: { text: 'half-open' }, 2: { text: 'open' } });
  });

  it('has unique panel ids and a stable uid', () => {
    const ids = (dashboard.panels as any[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toBe('leadgate');
  });
});

describe('Prometheus alerts', () => {
  const rules = parseYaml(readRepoFile('deploy/prometheus/alerts.yml')).groups.flatMap((g: any) => g.rules) as any[];
  const alertTests = parseYaml(readRepoFile('deploy/prometheus/alerts.test.yml'));

  it('cover dead letters, oldest pending, CRM error rate, instance readiness and ingest errors', () => {
    const names = rules.map((r) => r.alert);
    for (const name of ['LeadgateDeadLettersGrowing', 'LeadgateOldestPendingTooOld', 'LeadgateCrmErrorRateHigh', 'LeadgateInstanceNotReady', 'LeadgateIngestErrors']) {
      expect(names).toContain(name);
    }
  });

  it('cover an open breaker, event-loop lag and readiness (leadgate_ready)', () => {
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r]));
    expect(byName.LeadgateCircuitBreakerOpen.expr).toMatch(/leadgate_circuit_breaker_state\b.*== 2/);
    expect(byName.LeadgateEventLoopLagHigh.expr).toMatch(/nodejs_eventloop_lag_p99_seconds/);
    expect(byName.LeadgateInstanceUnready.expr).toMatch(/leadgate_ready\b/);
  });

  it('each links its runbook, a page in docs/runbooks/, and every CloudWatch alarm names one too', () => {
    const runbooks = new Set(readdirSync(join(ROOT, 'docs/runbooks')));
    for (const rule of rules) {
      const match = /^docs\/runbooks\/([a-z0-9-]+\.md)$/.exec(rule.annotations.runbook_url ?? '');
      expect(match, `${rule.alert}: runbook_url`).not.toBeNull();
      expect(runbooks.has(match![1]!), `${rule.alert}: ${match![1]} exists`).toBe(true);
      expect(readRepoFile(`docs/runbooks/${match![1]}`), `${rule.alert} named in its runbook`).toContain(rule.alert);
    }
    const alarms = [
      ...Object.values(parseYaml(readRepoFile('deploy/cloudformation/leadgate.yaml')).Resources as Record<string, any>),
      ...readdirSync(join(ROOT, '.ebextensions')).flatMap((name) => Object.values(parseYaml(readRepoFile(`.ebextensions/${name}`)).Resources ?? {})),
    ].filter((r: any) => r.Type === 'AWS::CloudWatch::Alarm') as any[];
    expect(alarms.length).toBeGreaterThan(3);
    for (const alarm of alarms) {
      const name = JSON.stringify(alarm.Properties.AlarmName);
      const match = /Runbook: docs\/runbooks\/([a-z0-9-]+\.md)/.exec(alarm.Properties.AlarmDescription);
      expect(match, `${name}: Runbook: in its description`).not.toBeNull();
      expect(runbooks.has(match![1]!), `${name}: ${match![1]} exists`).toBe(true);
    }
  });

  it('each has for:, a severity and summary/description, without contact fields or lead ids', () => {
    for (const rule of rules) {
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical']).toContain(rule.labels?.severity);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.description, rule.alert).toBeTruthy();
      const text = JSON.stringify(rule.annotations);
      for (const label of text.matchAll(/\$labels\.(\w+)/g)) expect(['destination', 'brand', 'instance', 'job']).toContain(label[1]);
      expect(text).not.toMatch(/email|phone|first_name|last_name|lead_?id/i);
    }
  });

  it('query only metrics and labels leadgate exports (and up)', () => {
    for (const rule of rules) checkExpression(rule.alert, rule.expr);
  });

  it('every alert has a unit test where it fires and one where it does not', () => {
    const cases = alertTests.tests.flatMap((t: any) => t.alert_rule_test) as any[];
    for (const rule of rules) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(mine.some((c) => c.exp_alerts?.length > 0), `${rule.alert} fires in a test`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${rule.alert} stays quiet in a test`).toBe(true);
    }
  });

  // promtool comes from Debian's prometheus package: npm test's pretest installs it when missing.
  describe('promtool', () => {
    it('checks the rules', async () => {
      expect(hasCommand('promtool'), 'promtool is missing: apt-get install prometheus').toBe(true);
      const result = await run('promtool', ['check', 'rules', 'deploy/prometheus/alerts.yml']);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    });

    it('accepts the scrape configuration: both ops ports of every instance, one job', async () => {
      const result = await run('promtool', ['check', 'config', 'deploy/prometheus/scrape.yml']);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const text = readRepoFile('deploy/prometheus/scrape.yml');
      expect(text).toMatch(/job_name: leadgate\n/);
      expect(text).toMatch(/port: 9464/);
      expect(text).toMatch(/port: 9465/);
    });

    it('passes the unit tests of every alert', async () => {
      const result = await run('promtool', ['test', 'rules', 'deploy/prometheus/alerts.test.yml']);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/SUCCESS/);
    });
  });
});

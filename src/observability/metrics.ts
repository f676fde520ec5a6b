import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric leadgate exports is defined here. Labels never hold personal data or lead ids:
 * only brand ids, destination ids, reasons from a closed set, routes and status codes.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  // Off in `leadgate serve`'s worker thread: the process's figures come from the main thread.
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const leadsAccepted = new Counter({
    name: 'leadgate_leads_accepted_total',
    help: 'Leads accepted (202) by brand',
    labelNames: ['brand'] as const,
    registers: [registry],
  });
  const leadsRejected = new Counter({
    name: 'leadgate_leads_rejected_total',
    help: 'Lead submissions rejected, by brand (or "unknown") and error code',
    labelNames: ['brand', 'reason'] as const,
    registers: [registry],
  });
  const leadsUnrouted = new Counter({
    name: 'leadgate_leads_unrouted_total',
    help: 'Accepted leads that matched no route',
    labelNames: ['brand'] as const,
    registers: [registry],
  });
  const leadsDuplicate = new Counter({
    name: 'leadgate_leads_duplicate_total',
    help: 'Accepted leads flagged duplicate_of an earlier lead of the brand (same email or phone and service)',
    labelNames: ['brand'] as const,
    registers: [registry],
  });
  const leadsSpam = new Counter({
    name: 'leadgate_leads_spam_total',
    help: 'Submissions answered 202 but kept as spam (never forwarded), by brand and reason (honeypot, too_fast)',
    labelNames: ['brand', 'reason'] as const,
    registers: [registry],
  });
  const captchaUnavailable = new Counter({
    name: 'leadgate_captcha_unavailable_total',
    help: "Captcha checks the provider's siteverify did not answer in time, by brand",
    labelNames: ['brand'] as const,
    registers: [registry],
  });
  const budgetRejections = new Counter({
    name: 'leadgate_budget_rejections_total',
    help: 'Requests answered 429 by the public edge, by budget (ip_publishable, ip_secret, ip_unknown_key, brand, admin_auth)',
    labelNames: ['budget'] as const,
    registers: [registry],
  });
  const adminRequests = new Counter({
    name: 'leadgate_admin_requests_total',
    help: 'Admin API and console requests by outcome (ok, denied, error)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'leadgate_deliveries_total',
    help: 'Delivery attempts by destination and outcome (delivered, retry, dead)',
    labelNames: ['destination', 'outcome'] as const,
    registers: [registry],
  });
  const deliveryDuration = new Histogram({
    name: 'leadgate_delivery_duration_seconds',
    help: 'Duration of delivery attempts',
    labelNames: ['destination'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const deliveriesPending = new Gauge({
    name: 'leadgate_deliveries_pending',
    help: 'Pending deliveries by destination (from the store: the same on every instance)',
    labelNames: ['destination'] as const,
    registers: [registry],
  });
  const deliveriesDead = new Gauge({
    name: 'leadgate_deliveries_dead',
    help: 'Dead deliveries by destination (from the store)',
    labelNames: ['destination'] as const,
    registers: [registry],
  });
  const oldestPendingAge = new Gauge({
    name: 'leadgate_oldest_pending_delivery_age_seconds',
    help: 'Age of the oldest pending delivery by destination (from the store)',
    labelNames: ['destination'] as const,
    registers: [registry],
  });
  const circuitBreakerState = new Gauge({
    name: 'leadgate_circuit_breaker_state',
    help: 'Circuit breaker of each destination in this process: 0 closed, 1 half-open, 2 open',
    labelNames: ['destination'] as const,
    registers: [registry],
  });
  const deliveriesHeld = new Counter({
    name: 'leadgate_deliveries_held_total',
    help: 'Deliveries handed back without an attempt, by destination and reason (paused, circuit_open, max_in_flight, rate_limit)',
    labelNames: ['destination', 'reason'] as const,
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: 'leadgate_queue_depth',
    help: 'Jobs the queue holds (waiting, delayed or running), by queue backend',
    labelNames: ['backend'] as const,
    registers: [registry],
  });
  const ready = new Gauge({
    name: 'leadgate_ready',
    help: '1 when this process is ready (store and queue answer, not draining), computed at each scrape',
    registers: [registry],
  });
  const recordsPurged = new Counter({
    name: 'leadgate_records_purged_total',
    help: 'Records deleted by the retention purge, by kind (leads, deliveries, attempts, fingerprints, identities, idempotency)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'leadgate_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  return {
    registry,
    leadsAccepted,
    leadsRejected,
    leadsUnrouted,
    leadsDuplicate,
    leadsSpam,
    captchaUnavailable,
    budgetRejections,
    adminRequests,
    deliveries,
    deliveryDuration,
    deliveriesPending,
    deliveriesDead,
    oldestPendingAge,
    queueDepth,
    ready,
    circuitBreakerState,
    deliveriesHeld,
    recordsPurged,
    httpDuration,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

import type { FastifyInstance } from 'fastify';

/**
 * A stand-in CRM inside leadgate itself, so the README's curl is visibly delivered on a fresh
 * clone with no other service running. Keeps only ids (no personal data) of the last 100.
 */
const KEEP = 100;
const BODY_LIMIT = 1024 * 1024;

interface Received {
  webhook_id: string | null;
  received_at: string;
  lead_id: string | null;
  brand: string | null;
  service: string | null;
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value.slice(0, 200) : null);

export function registerDemoCrmRoutes(app: FastifyInstance, now: () => number): void {
  const received: Received[] = [];

  app.post('/demo/crm/leads', { bodyLimit: BODY_LIMIT }, async (request) => {
    const body = request.body as { data?: { id?: unknown; brand?: unknown; service?: unknown } } | undefined;
    const data = typeof body === 'object' && body !== null && typeof body.data === 'object' ? body.data : undefined;
    const entry: Received = {
      webhook_id: str(request.headers['webhook-id']),
      received_at: new Date(now()).toISOString(),
      lead_id: str(data?.id),
      brand: str(data?.brand),
      service: str(data?.service),
    };
    received.push(entry);
    if (received.length > KEEP) received.shift();
    request.log.info({ webhookId: entry.webhook_id, leadId: entry.lead_id }, 'demo crm received');
    return { received: true };
  });

  app.get('/demo/crm/leads', async () => ({ items: [...received] }));
}

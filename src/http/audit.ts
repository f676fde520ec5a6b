import type { FastifyReply, FastifyRequest } from 'fastify';
import { truncateIp } from '../domain/client-ip.js';
import type { Metrics } from '../observability/metrics.js';

/** Who did it: the admin API's bearer token, a signed-in console session, or nobody known. */
export type AuditActor = 'admin-token' | 'console' | 'unauthenticated';

export interface AuditRecord {
  actor: AuditActor;
  /** Method and route pattern, e.g. `POST /console/leads/:id/reveal`. */
  action: string;
  leadId?: string;
  deliveryId?: string;
  destination?: string;
  erasureId?: string;
}

/** ok below 400; denied for 401, 403 (CSRF) and 429; error otherwise. */
export function auditOutcome(statusCode: number): 'ok' | 'denied' | 'error' {
  if (statusCode < 400) return 'ok';
  return statusCode === 401 || statusCode === 403 || statusCode === 429 ? 'denied' : 'error';
}

/**
 * One `admin audit` line per admin API or console request: who, what, on which record, with
 * what outcome; ids of records only, never personal data, the client IP truncated.
 */
export function writeAudit(request: FastifyRequest, reply: FastifyReply, metrics: Metrics, record: AuditRecord): void {
  const outcome = auditOutcome(reply.statusCode);
  metrics.adminRequests.inc({ outcome });
  request.log.info(
    {
      audit: true,
      ...record,
      actor: outcome === 'denied' && reply.statusCode !== 403 ? 'unauthenticated' : record.actor,
      ip: truncateIp(request.ip),
      statusCode: reply.statusCode,
      outcome,
    },
    'admin audit',
  );
}

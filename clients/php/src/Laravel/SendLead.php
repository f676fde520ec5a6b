<?php

declare(strict_types=1);

namespace Leadgate\Laravel;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\Jobs\SyncJob;
use Leadgate\Client;
use Leadgate\LeadgateException;
use Leadgate\RateLimited;
use Leadgate\Rejected;
use Leadgate\Unauthorized;
use Leadgate\Unavailable;
use Leadgate\ValidationFailed;

/**
 * Submits a lead from the queue, so the form's controller answers the visitor at once and the
 * lead waits in the application's queue while leadgate is unreachable:
 * `SendLead::dispatch($lead);`.
 *
 * The idempotency key is made at dispatch and travels in the job's payload, so every attempt
 * (a worker crash after leadgate answered included) sends the same key and leadgate creates
 * one lead. Outages (network, 5xx, 409 in flight, 429) and 401 (a key fixed by the next deploy)
 * release the job for `backoff()` or the `Retry-After`, whichever is longer; a lead leadgate
 * refuses as invalid fails at once and stays in `failed_jobs` for a human.
 */
final class SendLead implements ShouldQueue
{
    use Dispatchable;
    use InteractsWithQueue;
    use Queueable;

    /** With backoff() these span about 17 h, inside leadgate's 24 h idempotency window. */
    public int $tries = 25;

    /** Seconds a worker lets one attempt run (the client's own attempts stay well inside). */
    public int $timeout = 120;

    public string $idempotencyKey;

    /**
     * @param array<string, mixed> $lead the body of `POST /v1/leads`
     * @param string|null $idempotencyKey stable for this lead (e.g. the form submission's id);
     *        a UUID v4 is made here when null
     */
    public function __construct(public array $lead, ?string $idempotencyKey = null)
    {
        $this->idempotencyKey = $idempotencyKey ?? Client::newIdempotencyKey();
        $this->onConnection(config('leadgate.queue_connection'));
        $this->onQueue(config('leadgate.queue'));
    }

    /** @return list<int> seconds before attempt 2, 3, ...; the last repeats */
    public function backoff(): array
    {
        return [5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    }

    public function handle(Client $client): void
    {
        try {
            $client->submitLead($this->lead, $this->idempotencyKey);
        } catch (ValidationFailed | Rejected $e) {
            if ($e->status === 409) { // our earlier attempt is still in flight at leadgate
                $this->retryLater($e, null);
                return;
            }
            $this->fail($e);
        } catch (Unavailable $e) {
            $this->retryLater($e, $e->retryAfter);
        } catch (RateLimited $e) {
            $this->retryLater($e, $e->retryAfter);
        } catch (Unauthorized $e) {
            $this->retryLater($e, null);
        }
    }

    private function retryLater(LeadgateException $e, ?int $retryAfter): void
    {
        // On the `sync` connection a release is dropped: tell the caller rather than lose the lead.
        if ($this->job === null || $this->job instanceof SyncJob) {
            throw $e;
        }
        $backoff = $this->backoff();
        $delay = $backoff[min(max($this->attempts(), 1), count($backoff)) - 1];
        $this->release(max($delay, $retryAfter ?? 0));
    }
}

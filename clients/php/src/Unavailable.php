<?php

declare(strict_types=1);

namespace Leadgate;

/**
 * leadgate could not be reached or answered 5xx (503 `unavailable` while its store or queue is
 * down or it is draining; 502/504 from a load balancer), every retry included. `$status` is
 * null for a network error or timeout (then `getPrevious()` holds curl's error); `$retryAfter`
 * is the last `Retry-After` seen, if any. Nothing was lost: retry later with the same
 * idempotency key (`$idempotencyKey`), which is what `Leadgate\Laravel\SendLead` does.
 */
final class Unavailable extends LeadgateException
{
    public function __construct(
        string $message,
        ?int $status,
        ?string $errorCode,
        public readonly ?int $retryAfter = null,
        public readonly ?string $idempotencyKey = null,
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, $status, $errorCode, $previous);
    }
}

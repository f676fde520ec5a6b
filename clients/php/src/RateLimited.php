<?php

declare(strict_types=1);

namespace Leadgate;

/**
 * 429 after the client's retries, or with a `Retry-After` longer than the client will wait:
 * try again in `$retryAfter` seconds (a queued job releases itself for that long).
 */
final class RateLimited extends LeadgateException
{
    public function __construct(
        string $message,
        ?string $errorCode,
        public readonly ?int $retryAfter,
    ) {
        parent::__construct($message, 429, $errorCode);
    }
}

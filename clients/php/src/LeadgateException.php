<?php

declare(strict_types=1);

namespace Leadgate;

/**
 * Every error this package throws. `$status` is the HTTP status leadgate (or the load balancer
 * in front of it) answered, null when no answer came; `$errorCode` is the `error` field of
 * leadgate's JSON error body (`validation_failed`, `rate_limited`, ...) when there was one.
 */
class LeadgateException extends \RuntimeException
{
    public function __construct(
        string $message,
        public readonly ?int $status = null,
        public readonly ?string $errorCode = null,
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, $status ?? 0, $previous);
    }
}

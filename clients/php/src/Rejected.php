<?php

declare(strict_types=1);

namespace Leadgate;

/**
 * Any other refusal, none of which a retry of the same request can fix: 403
 * `origin_not_allowed`, 404, 409 `idempotency_in_flight` still in flight after every retry,
 * 413 `payload_too_large`, 415, 422 `idempotency_key_reused` (the key was first used with
 * another body). `$status` and `$errorCode` say which.
 */
final class Rejected extends LeadgateException
{
}

<?php

declare(strict_types=1);

namespace Leadgate;

/**
 * leadgate's 202: the lead is durable and will be forwarded. `$replayed` is true when this
 * idempotency key had already been accepted (`Idempotent-Replayed: true`): `$id` is then the
 * first lead's id and nothing new was created.
 */
final class Accepted
{
    public function __construct(
        public readonly string $id,
        public readonly bool $replayed,
        public readonly string $idempotencyKey,
    ) {
    }
}

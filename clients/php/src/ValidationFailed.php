<?php

declare(strict_types=1);

namespace Leadgate;

/**
 * 400: the lead was refused as sent (`validation_failed`, `invalid_json`, `captcha_failed`).
 * Sending it again will not help; `$details` names each bad field.
 */
final class ValidationFailed extends LeadgateException
{
    /**
     * @param list<array{path: string, message: string}> $details
     */
    public function __construct(
        string $message,
        int $status,
        ?string $errorCode,
        public readonly array $details = [],
    ) {
        parent::__construct($message, $status, $errorCode);
    }
}

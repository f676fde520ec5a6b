<?php

declare(strict_types=1);

namespace Leadgate\Internal;

use Leadgate\LeadgateException;
use Leadgate\RateLimited;
use Leadgate\Rejected;
use Leadgate\Unauthorized;
use Leadgate\Unavailable;
use Leadgate\ValidationFailed;

/**
 * One HTTP answer from leadgate, and the exception it stands for.
 *
 * @internal
 */
final class Response
{
    /** Worth the same request again: in flight elsewhere, rate limited, or a server-side outage. */
    private const RETRYABLE = [408, 409, 425, 429, 500, 502, 503, 504];

    /** @param array<string, string> $headers lower-cased names */
    public function __construct(
        public readonly int $status,
        private readonly array $headers,
        private readonly string $body,
    ) {
    }

    public function header(string $name): ?string
    {
        return $this->headers[strtolower($name)] ?? null;
    }

    /** @return array<string, mixed> the JSON object body, or [] when it is not one */
    public function json(): array
    {
        $decoded = json_decode($this->body, true);
        return is_array($decoded) ? $decoded : [];
    }

    public function isRetryable(): bool
    {
        return in_array($this->status, self::RETRYABLE, true);
    }

    /** `Retry-After` in seconds (delta-seconds or an HTTP date), null when absent or unreadable. */
    public function retryAfter(): ?int
    {
        $value = $this->header('retry-after');
        if ($value === null || $value === '') {
            return null;
        }
        if (ctype_digit($value)) {
            return (int) $value;
        }
        $date = strtotime($value);
        return $date === false ? null : max(0, $date - time());
    }

    public function toException(string $idempotencyKey): LeadgateException
    {
        $json = $this->json();
        $code = is_string($json['error'] ?? null) ? $json['error'] : null;
        $message = sprintf(
            'leadgate answered %d%s%s',
            $this->status,
            $code !== null ? ' ' . $code : '',
            is_string($json['message'] ?? null) ? ': ' . $json['message'] : '',
        );
        return match (true) {
            $this->status === 400 => new ValidationFailed($message, 400, $code, self::details($json['details'] ?? [])),
            $this->status === 401 => new Unauthorized($message, 401, $code),
            $this->status === 429 => new RateLimited($message, $code, $this->retryAfter()),
            $this->status >= 500, $this->status === 408, $this->status === 425 => new Unavailable(
                $message,
                $this->status,
                $code,
                $this->retryAfter(),
                $idempotencyKey,
            ),
            $this->status >= 400 => new Rejected($message, $this->status, $code),
            default => new LeadgateException($message, $this->status, $code),
        };
    }

    /** @return list<array{path: string, message: string}> */
    private static function details(mixed $details): array
    {
        $out = [];
        foreach (is_array($details) ? $details : [] as $detail) {
            if (is_array($detail)) {
                $out[] = ['path' => (string) ($detail['path'] ?? ''), 'message' => (string) ($detail['message'] ?? '')];
            }
        }
        return $out;
    }
}

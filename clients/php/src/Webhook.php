<?php

declare(strict_types=1);

namespace Leadgate;

/**
 * Verifies leadgate's deliveries on the receiving side (a CRM written in PHP), as the Standard
 * Webhooks specification says: `webhook-signature` holds one or more space-separated
 * `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>">`, any of which may
 * match (several during a secret rotation); the timestamp must be within `$tolerance` seconds of
 * now, so a captured request cannot be replayed later. Drop duplicates by `webhook-id`: it is
 * the same on every retry of a delivery.
 */
final class Webhook
{
    public const DEFAULT_TOLERANCE_SECONDS = 300;

    /**
     * Throws on failure; never returns false.
     *
     * @param string $body    the raw request body, byte for byte (`file_get_contents('php://input')`,
     *                        Laravel's `$request->getContent()`), never a re-encoded array
     * @param array<string, string|list<string>> $headers names in any case; values as strings or
     *                        lists of strings (`getallheaders()`, `$request->headers->all()`, PSR-7)
     * @param string $secret  the destination's `signing_secret`, `whsec_<base64>`
     * @param int|null $now   unix seconds to check the timestamp against (default: the clock)
     * @return array<string, mixed> the decoded body (`type`, `timestamp`, `data`)
     * @throws WebhookVerificationFailed when a header is missing, the timestamp is outside the
     *         tolerance, no signature matches, or the body is not a JSON object
     */
    public static function verify(
        string $body,
        array $headers,
        string $secret,
        int $tolerance = self::DEFAULT_TOLERANCE_SECONDS,
        ?int $now = null,
    ): array {
        $id = self::header($headers, 'webhook-id');
        $timestamp = self::header($headers, 'webhook-timestamp');
        $signatures = self::header($headers, 'webhook-signature');
        if ($id === null || $timestamp === null || $signatures === null) {
            throw new WebhookVerificationFailed('missing webhook-id, webhook-timestamp or webhook-signature header');
        }
        if (!ctype_digit($timestamp)) {
            throw new WebhookVerificationFailed('webhook-timestamp is not unix seconds');
        }
        $now ??= time();
        if (abs($now - (int) $timestamp) > $tolerance) {
            throw new WebhookVerificationFailed('webhook-timestamp is too old or too far in the future');
        }

        $expected = base64_encode(hash_hmac('sha256', "{$id}.{$timestamp}.{$body}", self::key($secret), true));
        $matched = false;
        foreach (preg_split('/\s+/', trim($signatures)) ?: [] as $candidate) {
            [$version, $signature] = array_pad(explode(',', $candidate, 2), 2, '');
            // Check every candidate, without stopping early, in constant time per candidate.
            if ($version === 'v1' && hash_equals($expected, $signature)) {
                $matched = true;
            }
        }
        if (!$matched) {
            throw new WebhookVerificationFailed('no webhook-signature matches this body');
        }

        $payload = json_decode($body, true);
        if (!is_array($payload)) {
            throw new WebhookVerificationFailed('the signed body is not a JSON object');
        }
        return $payload;
    }

    private static function key(string $secret): string
    {
        $encoded = str_starts_with($secret, 'whsec_') ? substr($secret, strlen('whsec_')) : $secret;
        $key = base64_decode($encoded, true);
        if ($key === false || $key === '') {
            throw new \InvalidArgumentException('leadgate: the signing secret must be whsec_<base64>');
        }
        return $key;
    }

    /** @param array<string, string|list<string>> $headers */
    private static function header(array $headers, string $name): ?string
    {
        foreach ($headers as $key => $value) {
            if (is_string($key) && strtolower($key) === $name) {
                $value = is_array($value) ? implode(' ', array_map('strval', $value)) : (string) $value;
                return trim($value) === '' ? null : trim($value);
            }
        }
        return null;
    }
}

<?php

declare(strict_types=1);

namespace Leadgate;

use Leadgate\Internal\Response;

/**
 * Submits leads to leadgate's `POST /v1/leads` with a secret key (server to server: no Origin).
 *
 * Every submission carries an `Idempotency-Key` (the caller's, or a UUID v4 made here) and every
 * retry reuses it, so a retry after a lost answer gets the first lead back (`replayed`) instead
 * of a second lead. Network errors, timeouts, 409 (the first attempt still in flight), 429 and
 * 5xx are retried up to `retries` times; the wait honours `Retry-After`, else backs off
 * exponentially with jitter. No single wait exceeds `timeout`: when leadgate asks for a longer
 * pause (a rate limit's minute), the call gives up at once with `retryAfter` set rather than
 * hold a web request, and a queued job (Laravel\SendLead) picks it up later.
 */
final class Client
{
    public const VERSION = '0.1.0';

    private const OPTIONS = ['timeout', 'retries', 'user_agent'];
    private const FIRST_BACKOFF_SECONDS = 0.25;

    private readonly string $endpoint;
    private readonly float $timeout;
    private readonly int $retries;
    private readonly string $userAgent;
    private ?\CurlHandle $curl = null;

    /**
     * @param string $baseUrl   leadgate's public URL, e.g. `https://leads.example.com`
     * @param string $secretKey one of the brand's `api_keys` (never a publishable key)
     * @param array{timeout?: int|float, retries?: int, user_agent?: string} $options
     *        `timeout`: seconds per attempt and longest wait between attempts (default 5);
     *        `retries`: attempts after the first (default 3)
     */
    public function __construct(string $baseUrl, private readonly string $secretKey, array $options = [])
    {
        if (!preg_match('#^https?://[^/]+#i', $baseUrl)) {
            throw new \InvalidArgumentException('leadgate: the base URL must start with http:// or https://');
        }
        if (trim($secretKey) === '') {
            throw new \InvalidArgumentException('leadgate: the secret key is empty (is LEADGATE_KEY set?)');
        }
        $unknown = array_diff(array_keys($options), self::OPTIONS);
        if ($unknown !== []) {
            throw new \InvalidArgumentException('leadgate: unknown option(s) ' . implode(', ', $unknown));
        }
        $timeout = $options['timeout'] ?? 5;
        $retries = $options['retries'] ?? 3;
        if (!is_numeric($timeout) || $timeout <= 0) {
            throw new \InvalidArgumentException('leadgate: timeout must be a positive number of seconds');
        }
        if (!is_int($retries) || $retries < 0) {
            throw new \InvalidArgumentException('leadgate: retries must be an integer >= 0');
        }
        $this->endpoint = rtrim($baseUrl, '/') . '/v1/leads';
        $this->timeout = (float) $timeout;
        $this->retries = $retries;
        $this->userAgent = $options['user_agent'] ?? sprintf('leadgate-php/%s PHP/%s', self::VERSION, PHP_VERSION);
    }

    /**
     * Submits one lead (the body of `POST /v1/leads`: contact, service, consent, source, meta...).
     *
     * @param array<string, mixed> $lead
     * @param string|null $idempotencyKey 1-255 visible ASCII characters, stable for this lead
     *        (a form submission id, an order id); a UUID v4 is made when null
     *
     * @throws ValidationFailed|Unauthorized|RateLimited|Unavailable|Rejected
     */
    public function submitLead(array $lead, ?string $idempotencyKey = null): Accepted
    {
        $key = $idempotencyKey ?? self::newIdempotencyKey();
        try {
            // An empty array would encode as a JSON list; leadgate expects an object.
            $body = $lead === [] ? '{}' : json_encode($lead, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        } catch (\JsonException $e) {
            throw new \InvalidArgumentException('leadgate: the lead cannot be encoded as JSON: ' . $e->getMessage(), 0, $e);
        }

        for ($attempt = 0; ; $attempt++) {
            $response = null;
            $networkError = null;
            try {
                $response = $this->post($body, $key);
            } catch (\RuntimeException $e) {
                $networkError = $e;
            }
            if ($response !== null && $response->status >= 200 && $response->status < 300) {
                return $this->accepted($response, $key);
            }
            if ($response !== null && !$response->isRetryable()) {
                throw $response->toException($key);
            }
            $retryAfter = $response?->retryAfter();
            $wait = $retryAfter ?? $this->backoff($attempt);
            if ($attempt >= $this->retries || $wait > $this->timeout) {
                throw $response !== null
                    ? $response->toException($key)
                    : new Unavailable(
                        sprintf('leadgate unreachable after %d attempt(s): %s', $attempt + 1, $networkError?->getMessage()),
                        null,
                        null,
                        null,
                        $key,
                        $networkError,
                    );
            }
            usleep((int) round($wait * 1_000_000));
        }
    }

    /** A random UUID v4 (RFC 9562), the default idempotency key. */
    public static function newIdempotencyKey(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr((ord($bytes[6]) & 0x0f) | 0x40);
        $bytes[8] = chr((ord($bytes[8]) & 0x3f) | 0x80);
        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }

    /** Exponential backoff with equal jitter: 0.25 s, 0.5 s, 1 s... each up to `timeout`. */
    private function backoff(int $attempt): float
    {
        $ceiling = min($this->timeout, self::FIRST_BACKOFF_SECONDS * (2 ** $attempt));
        return $ceiling / 2 + (mt_rand() / mt_getrandmax()) * $ceiling / 2;
    }

    private function accepted(Response $response, string $key): Accepted
    {
        $id = $response->json()['id'] ?? null;
        if (!is_string($id) || $id === '') {
            throw new LeadgateException(sprintf('leadgate answered %d without a lead id', $response->status), $response->status);
        }
        $replayed = strtolower($response->header('idempotent-replayed') ?? '') === 'true';
        return new Accepted($id, $replayed, $key);
    }

    /** @throws \RuntimeException on a network error or timeout (no HTTP answer) */
    private function post(string $body, string $key): Response
    {
        $this->curl ??= curl_init();
        $curl = $this->curl;
        curl_reset($curl);
        $headers = [];
        curl_setopt_array($curl, [
            CURLOPT_URL => $this->endpoint,
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => [
                'Authorization: Bearer ' . $this->secretKey,
                'Content-Type: application/json',
                'Accept: application/json',
                'Idempotency-Key: ' . $key,
                // No "Expect: 100-continue" round trip for bodies over 1 KiB.
                'Expect:',
            ],
            CURLOPT_USERAGENT => $this->userAgent,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_NOSIGNAL => true,
            CURLOPT_TIMEOUT_MS => (int) ceil($this->timeout * 1000),
            CURLOPT_CONNECTTIMEOUT_MS => (int) ceil($this->timeout * 1000),
            CURLOPT_HEADERFUNCTION => static function ($_, string $line) use (&$headers): int {
                if (str_starts_with($line, 'HTTP/')) {
                    $headers = []; // a new response (after a 100 Continue): keep only the last one's
                } elseif (str_contains($line, ':')) {
                    [$name, $value] = explode(':', $line, 2);
                    $headers[strtolower(trim($name))] = trim($value);
                }
                return strlen($line);
            },
        ]);
        $responseBody = curl_exec($curl);
        if ($responseBody === false) {
            throw new \RuntimeException(sprintf('curl error %d: %s', curl_errno($curl), curl_error($curl)));
        }
        return new Response((int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE), $headers, (string) $responseBody);
    }
}

<?php

declare(strict_types=1);

namespace Leadgate\Tests\Support;

use PHPUnit\Framework\Assert;

/**
 * Steers the load balancer test/clients/front-proxy.ts puts in front of leadgate. Each call
 * returns once the front has done it (leadgate stopped, started...), so tests need no sleeps.
 */
final class Front
{
    public static function failNext(int $count, int $status, int $retryAfter): void
    {
        self::call('POST', '/__front/fail-next', ['count' => $count, 'status' => $status, 'retry_after' => $retryAfter]);
    }

    /** Stops leadgate; lead requests then get no answer until up(). */
    public static function down(): void
    {
        self::call('POST', '/__front/down');
    }

    public static function up(): void
    {
        self::call('POST', '/__front/up');
    }

    /** The next lead request's answer is lost (forwarded first, or not) and leadgate restarts. */
    public static function restartOnNext(bool $forward): void
    {
        self::call('POST', '/__front/restart-on-next', ['forward' => $forward]);
    }

    /** Returns once a restart under way (restartOnNext) is over. */
    public static function settle(): void
    {
        self::call('POST', '/__front/settle');
    }

    /**
     * @return list<array{key: ?string, receivedAt: int, outcome: string, status: ?int, id: ?string, replayed: bool}>
     */
    public static function requests(string $idempotencyKey): array
    {
        return json_decode(self::call('GET', '/__front/requests?key=' . rawurlencode($idempotencyKey)), true, 512, JSON_THROW_ON_ERROR);
    }

    /** @return list<string> the outcome of each request with this key, e.g. ['scripted', 'forwarded'] */
    public static function outcomes(string $idempotencyKey): array
    {
        return array_map(static fn (array $r): string => $r['outcome'] . ($r['status'] === null ? '' : ':' . $r['status']), self::requests($idempotencyKey));
    }

    private static function call(string $method, string $path, ?array $body = null): string
    {
        $curl = curl_init(Env::get('LEADGATE_FRONT') . $path);
        curl_setopt_array($curl, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_TIMEOUT => 60,
        ]);
        if ($body !== null) {
            curl_setopt($curl, CURLOPT_POSTFIELDS, json_encode($body));
            curl_setopt($curl, CURLOPT_HTTPHEADER, ['Content-Type: application/json']);
        }
        $answer = curl_exec($curl);
        $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        Assert::assertIsString($answer, "front {$method} {$path}: " . curl_error($curl));
        Assert::assertLessThan(300, $status, "front {$method} {$path} answered {$status}: {$answer}");
        return $answer;
    }
}

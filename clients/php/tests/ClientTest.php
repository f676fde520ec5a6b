<?php

declare(strict_types=1);

namespace Leadgate\Tests;

use Leadgate\Client;
use Leadgate\LeadgateException;
use Leadgate\RateLimited;
use Leadgate\Rejected;
use Leadgate\Unauthorized;
use Leadgate\Unavailable;
use Leadgate\ValidationFailed;
use Leadgate\Tests\Support\Env;
use Leadgate\Tests\Support\Front;
use PHPUnit\Framework\TestCase;

/**
 * Leadgate\Client against a real leadgate behind the front (test/clients/front-proxy.ts).
 *
 * @group client
 */
final class ClientTest extends TestCase
{
    private const UUID_V4 = '/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/';

    private function client(array $options = []): Client
    {
        return new Client(Env::get('LEADGATE_URL'), Env::get('LEADGATE_KEY'), $options + ['timeout' => 5, 'retries' => 3]);
    }

    public function testSubmitReturnsTheLeadIdAndSendsTheKey(): void
    {
        $accepted = $this->client()->submitLead(Env::lead('submit'));

        self::assertNotSame('', $accepted->id);
        self::assertFalse($accepted->replayed);
        self::assertMatchesRegularExpression(self::UUID_V4, $accepted->idempotencyKey);
        $requests = Front::requests($accepted->idempotencyKey);
        self::assertCount(1, $requests);
        self::assertSame(['forwarded', 202, $accepted->id], [$requests[0]['outcome'], $requests[0]['status'], $requests[0]['id']]);
    }

    public function testEachSubmissionGetsItsOwnKey(): void
    {
        $client = $this->client();
        $first = $client->submitLead(Env::lead('own-key-1'));
        $second = $client->submitLead(Env::lead('own-key-2'));

        self::assertNotSame($first->idempotencyKey, $second->idempotencyKey);
        self::assertNotSame($first->id, $second->id);
    }

    public function testTheSameKeyReplaysTheFirstLead(): void
    {
        $key = 'php-replay-' . bin2hex(random_bytes(8));
        $client = $this->client();

        $first = $client->submitLead(Env::lead('replay'), $key);
        $again = $client->submitLead(Env::lead('replay'), $key);

        self::assertFalse($first->replayed);
        self::assertTrue($again->replayed);
        self::assertSame($first->id, $again->id);
        self::assertSame($key, $again->idempotencyKey);
    }

    public function testTheSameKeyWithAnotherBodyIsRejected(): void
    {
        $key = 'php-reused-' . bin2hex(random_bytes(8));
        $client = $this->client();
        $client->submitLead(Env::lead('reused-a'), $key);

        try {
            $client->submitLead(Env::lead('reused-b'), $key);
            self::fail('expected Rejected');
        } catch (Rejected $e) {
            self::assertSame(422, $e->status);
            self::assertSame('idempotency_key_reused', $e->errorCode);
            self::assertInstanceOf(LeadgateException::class, $e);
        }
        self::assertCount(2, Front::requests($key), 'a 422 is not retried');
    }

    public function testAnInvalidLeadIsValidationFailedWithDetails(): void
    {
        $key = Client::newIdempotencyKey();
        $lead = Env::lead('invalid');
        unset($lead['contact']['email'], $lead['contact']['phone']);
        $lead['service'] = 'Not A Service!';

        try {
            $this->client()->submitLead($lead, $key);
            self::fail('expected ValidationFailed');
        } catch (ValidationFailed $e) {
            self::assertSame(400, $e->status);
            self::assertSame('validation_failed', $e->errorCode);
            $paths = array_column($e->details, 'path');
            self::assertContains('/service', $paths);
            self::assertNotEmpty(array_filter($paths, static fn (string $p): bool => str_starts_with($p, '/contact')), implode(', ', $paths));
            foreach ($e->details as $detail) {
                self::assertNotSame('', $detail['message']);
            }
        }
        self::assertSame(['forwarded:400'], Front::outcomes($key), 'a 400 is not retried');
    }

    public function testAnUnknownKeyIsUnauthorized(): void
    {
        $client = new Client(Env::get('LEADGATE_URL'), 'sk-unknown-to-leadgate-0123456789');
        $key = Client::newIdempotencyKey();

        try {
            $client->submitLead(Env::lead('unauthorized'), $key);
            self::fail('expected Unauthorized');
        } catch (Unauthorized $e) {
            self::assertSame(401, $e->status);
            self::assertSame('unauthorized', $e->errorCode);
        }
        self::assertSame(['forwarded:401'], Front::outcomes($key));
    }

    public function testABodyOverTheLimitIsRejected(): void
    {
        $lead = Env::lead('too-large');
        $lead['message'] = str_repeat('a', 70 * 1024);

        $this->expectException(Rejected::class);
        $this->expectExceptionCode(413);
        $this->client()->submitLead($lead);
    }

    public function testTheBrandRateLimitIsRateLimitedWithRetryAfter(): void
    {
        $client = new Client(Env::get('LEADGATE_URL'), Env::get('LEADGATE_RATE_LIMITED_KEY'), ['timeout' => 5, 'retries' => 3]);
        $budget = (int) Env::get('LEADGATE_RATE_LIMIT_PER_MINUTE');
        for ($i = 0; $i < $budget; $i++) {
            $client->submitLead(Env::lead("rate-{$i}"));
        }
        $key = Client::newIdempotencyKey();

        try {
            $client->submitLead(Env::lead('rate-over'), $key);
            self::fail('expected RateLimited');
        } catch (RateLimited $e) {
            self::assertSame(429, $e->status);
            self::assertSame('rate_limited', $e->errorCode);
            self::assertGreaterThan(5, $e->retryAfter, 'the per-minute window outlasts the client timeout');
        }
        // Retry-After beyond the client's timeout: it gives up at once instead of holding the page.
        self::assertSame(['forwarded:429'], Front::outcomes($key));
    }

    public function testA503IsRetriedWithTheSameKeyAfterRetryAfter(): void
    {
        Front::failNext(2, 503, 1);
        $accepted = $this->client()->submitLead(Env::lead('retry-503'));

        self::assertFalse($accepted->replayed);
        $requests = Front::requests($accepted->idempotencyKey);
        self::assertSame(['scripted:503', 'scripted:503', 'forwarded:202'], Front::outcomes($accepted->idempotencyKey));
        self::assertSame($accepted->id, $requests[2]['id']);
        for ($i = 1; $i < 3; $i++) {
            // Retry-After: 1 honoured (a lower bound: it cannot be met early).
            self::assertGreaterThanOrEqual(1000, $requests[$i]['receivedAt'] - $requests[$i - 1]['receivedAt']);
        }
    }

    public function testA429WithAShortRetryAfterIsRetried(): void
    {
        Front::failNext(1, 429, 0);
        $accepted = $this->client()->submitLead(Env::lead('retry-429'));

        self::assertSame(['scripted:429', 'forwarded:202'], Front::outcomes($accepted->idempotencyKey));
    }

    public function testUnavailableOnceEvery503RetryIsSpent(): void
    {
        Front::failNext(3, 503, 0);
        $key = Client::newIdempotencyKey();

        try {
            $this->client(['retries' => 2])->submitLead(Env::lead('exhausted-503'), $key);
            self::fail('expected Unavailable');
        } catch (Unavailable $e) {
            self::assertSame(503, $e->status);
            self::assertSame('unavailable', $e->errorCode);
            self::assertSame(0, $e->retryAfter);
            self::assertSame($key, $e->idempotencyKey);
        }
        self::assertSame(['scripted:503', 'scripted:503', 'scripted:503'], Front::outcomes($key));
    }

    public function testUnavailableWhileLeadgateIsStopped(): void
    {
        Front::down();
        $key = Client::newIdempotencyKey();
        try {
            $this->client(['retries' => 2])->submitLead(Env::lead('stopped'), $key);
            self::fail('expected Unavailable');
        } catch (Unavailable $e) {
            self::assertNull($e->status);
            self::assertSame($key, $e->idempotencyKey);
            self::assertInstanceOf(\RuntimeException::class, $e->getPrevious());
        } finally {
            Front::up();
        }
        self::assertSame(['reset', 'reset', 'reset'], Front::outcomes($key));

        // The same key once leadgate is back: the lead is created then, once.
        $accepted = $this->client()->submitLead(Env::lead('stopped'), $key);
        self::assertFalse($accepted->replayed);
    }

    public function testUnavailableWhenNothingListens(): void
    {
        $client = new Client(Env::get('LEADGATE_CLOSED_URL'), Env::get('LEADGATE_KEY'), ['timeout' => 1, 'retries' => 1]);

        $this->expectException(Unavailable::class);
        $this->expectExceptionMessageMatches('/unreachable after 2 attempt\(s\): curl error 7/');
        $client->submitLead(Env::lead('closed-port'));
    }

    public function testAnAnswerLostToARestartIsRecoveredAsAReplay(): void
    {
        // leadgate stores the lead, the answer never reaches us, leadgate restarts: the retry with
        // the same key must get that lead back, not create a second one.
        Front::restartOnNext(true);
        $accepted = $this->client(['retries' => 10])->submitLead(Env::lead('lost-answer'));

        self::assertTrue($accepted->replayed);
        $requests = Front::requests($accepted->idempotencyKey);
        $first = $requests[0];
        $last = $requests[count($requests) - 1];
        self::assertSame(['lost', 202, false], [$first['outcome'], $first['status'], $first['replayed']]);
        self::assertSame(['forwarded', 202, true], [$last['outcome'], $last['status'], $last['replayed']]);
        self::assertSame($first['id'], $accepted->id);
        self::assertSame($first['id'], $last['id']);
    }

    public function testASubmitDuringARestartGoesThroughOnce(): void
    {
        Front::restartOnNext(false);
        $accepted = $this->client(['retries' => 10])->submitLead(Env::lead('during-restart'));

        self::assertFalse($accepted->replayed);
        $outcomes = Front::outcomes($accepted->idempotencyKey);
        self::assertSame('reset', $outcomes[0]);
        self::assertSame('forwarded:202', $outcomes[count($outcomes) - 1]);
        self::assertSame([], array_diff(array_slice($outcomes, 1, -1), ['restarting:503']), implode(', ', $outcomes));
    }

    public function testALeadThatIsNotUtf8IsRefusedBeforeSending(): void
    {
        $lead = Env::lead('not-utf8');
        $lead['message'] = "caf\xE9";

        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('leadgate: the lead cannot be encoded as JSON');
        $this->client()->submitLead($lead);
    }

    public function testOptionsAreChecked(): void
    {
        foreach ([
            ['leads.example.com', 'sk', []],
            ['https://leads.example.com', ' ', []],
            ['https://leads.example.com', 'sk', ['timout' => 5]],
            ['https://leads.example.com', 'sk', ['timeout' => 0]],
            ['https://leads.example.com', 'sk', ['retries' => -1]],
        ] as [$url, $key, $options]) {
            try {
                new Client($url, $key, $options);
                self::fail('accepted ' . json_encode([$url, $key, $options]));
            } catch (\InvalidArgumentException $e) {
                self::assertStringStartsWith('leadgate: ', $e->getMessage());
            }
        }
    }
}

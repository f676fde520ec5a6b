<?php

declare(strict_types=1);

namespace Leadgate\Tests;

use Leadgate\LeadgateException;
use Leadgate\Webhook;
use Leadgate\WebhookVerificationFailed;
use Leadgate\Tests\Support\Env;
use PHPUnit\Framework\TestCase;

/**
 * Leadgate\Webhook::verify on deliveries leadgate really sent (captured by the loopback CRM of
 * test/clients/php.test.ts and written to LEADGATE_WEBHOOK_FIXTURE), and on altered copies.
 *
 * @group webhook
 */
final class WebhookTest extends TestCase
{
    /** @return array{lead_id: string, headers: array<string, string>, body: string} */
    private static function delivery(): array
    {
        $deliveries = json_decode((string) file_get_contents(Env::get('LEADGATE_WEBHOOK_FIXTURE')), true, 512, JSON_THROW_ON_ERROR);
        self::assertNotEmpty($deliveries);
        return $deliveries[0];
    }

    private static function secret(): string
    {
        return Env::get('LEADGATE_SIGNING_SECRET');
    }

    private static function assertRefused(string $body, array $headers, ?int $now = null, ?string $secret = null): void
    {
        try {
            Webhook::verify($body, $headers, $secret ?? self::secret(), Webhook::DEFAULT_TOLERANCE_SECONDS, $now);
            self::fail('verify() accepted an altered delivery');
        } catch (WebhookVerificationFailed $e) {
            self::assertInstanceOf(LeadgateException::class, $e);
        }
    }

    public function testARealDeliveryVerifiesAndReturnsThePayload(): void
    {
        $delivery = self::delivery();

        $payload = Webhook::verify($delivery['body'], $delivery['headers'], self::secret());

        self::assertSame('lead.created', $payload['type']);
        self::assertSame($delivery['lead_id'], $payload['data']['id']);
        self::assertSame('camille.martin@example.fr', $payload['data']['contact']['email']);
    }

    public function testARetriedDeliveryVerifiesToTheSameWebhookId(): void
    {
        $deliveries = json_decode((string) file_get_contents(Env::get('LEADGATE_WEBHOOK_FIXTURE')), true, 512, JSON_THROW_ON_ERROR);
        self::assertCount(2, $deliveries, 'the first attempt and its retry');

        $ids = [];
        foreach ($deliveries as $delivery) {
            self::assertSame($delivery['lead_id'], Webhook::verify($delivery['body'], $delivery['headers'], self::secret())['data']['id']);
            $ids[] = $delivery['headers']['webhook-id'];
        }
        // The id a CRM drops duplicates by.
        self::assertSame($ids[0], $ids[1]);
    }

    public function testHeaderNamesInAnyCaseAndValuesAsLists(): void
    {
        $delivery = self::delivery();
        $laravelStyle = [];
        foreach ($delivery['headers'] as $name => $value) {
            $laravelStyle[ucwords($name, '-')] = [$value];
        }
        self::assertArrayHasKey('Webhook-Signature', $laravelStyle);

        $payload = Webhook::verify($delivery['body'], $laravelStyle, self::secret());
        self::assertSame($delivery['lead_id'], $payload['data']['id']);
    }

    public function testATamperedBodyIdOrTimestampIsRefused(): void
    {
        $delivery = self::delivery();
        $headers = $delivery['headers'];

        self::assertRefused(str_replace('camille.martin@example.fr', 'someone@example.fr', $delivery['body']), $headers);
        self::assertRefused($delivery['body'] . ' ', $headers);
        self::assertRefused($delivery['body'], ['webhook-id' => 'msg_other'] + $headers);
        self::assertRefused($delivery['body'], ['webhook-timestamp' => (string) ((int) $headers['webhook-timestamp'] + 1)] + $headers);
    }

    public function testAnotherSecretIsRefused(): void
    {
        $delivery = self::delivery();
        self::assertRefused($delivery['body'], $delivery['headers'], null, 'whsec_' . base64_encode(random_bytes(24)));
    }

    public function testTheTimestampToleranceIsFiveMinutesEitherWay(): void
    {
        $delivery = self::delivery();
        $sentAt = (int) $delivery['headers']['webhook-timestamp'];

        Webhook::verify($delivery['body'], $delivery['headers'], self::secret(), 300, $sentAt + 300);
        Webhook::verify($delivery['body'], $delivery['headers'], self::secret(), 300, $sentAt - 300);
        self::assertRefused($delivery['body'], $delivery['headers'], $sentAt + 301);
        self::assertRefused($delivery['body'], $delivery['headers'], $sentAt - 301);
    }

    public function testAnyOfSeveralSignaturesMayMatchButOnlyV1(): void
    {
        $delivery = self::delivery();
        $headers = $delivery['headers'];
        [, $real] = explode(',', $headers['webhook-signature'], 2);

        $rotated = ['webhook-signature' => 'v1,' . base64_encode(random_bytes(32)) . ' v1,' . $real] + $headers;
        self::assertSame($delivery['lead_id'], Webhook::verify($delivery['body'], $rotated, self::secret())['data']['id']);

        self::assertRefused($delivery['body'], ['webhook-signature' => 'v1a,' . $real] + $headers);
        self::assertRefused($delivery['body'], ['webhook-signature' => 'v1,' . base64_encode(random_bytes(32))] + $headers);
    }

    public function testMissingHeadersAreRefused(): void
    {
        $delivery = self::delivery();
        foreach (['webhook-id', 'webhook-timestamp', 'webhook-signature'] as $name) {
            $headers = $delivery['headers'];
            unset($headers[$name]);
            self::assertRefused($delivery['body'], $headers);
        }
    }

    public function testASecretThatIsNotBase64IsAConfigurationError(): void
    {
        $delivery = self::delivery();
        $this->expectException(\InvalidArgumentException::class);
        Webhook::verify($delivery['body'], $delivery['headers'], 'whsec_not*base64');
    }
}

<?php

declare(strict_types=1);

namespace Leadgate\Tests\Support;

use PHPUnit\Framework\Assert;

/**
 * The environment test/clients/php.test.ts passes: LEADGATE_URL (the front in front of
 * leadgate), LEADGATE_KEY, LEADGATE_FRONT, LEADGATE_RATE_LIMITED_KEY,
 * LEADGATE_RATE_LIMIT_PER_MINUTE, LEADGATE_CLOSED_URL, LEADGATE_SIGNING_SECRET,
 * LEADGATE_TEST_TMP and, for the webhook group, LEADGATE_WEBHOOK_FIXTURE.
 */
final class Env
{
    public static function get(string $name): string
    {
        $value = getenv($name);
        if ($value === false || $value === '') {
            Assert::fail("{$name} is not set: run these tests through test/clients/php.test.ts (npx vitest run test/clients/php.test.ts)");
        }
        return $value;
    }

    /** An example lead, tagged so each test's lead can be told apart. */
    public static function lead(string $tag): array
    {
        return [
            'contact' => [
                'first_name' => 'Camille',
                'last_name' => 'Martin',
                'email' => 'Camille.Martin@Example.fr',
                'phone' => '06 12 34 56 78',
                'postal_code' => '75011',
                'city' => 'Paris',
            ],
            'service' => 'menage',
            'message' => 'Devis pour 3 h de ménage par semaine',
            'consent' => ['contact' => true, 'marketing' => false, 'text' => "J'accepte d'être recontacté"],
            'source' => ['url' => 'https://www.merci-plus.example/devis', 'form' => 'devis'],
            'meta' => ['test' => $tag],
        ];
    }
}

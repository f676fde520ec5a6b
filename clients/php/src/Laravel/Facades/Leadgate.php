<?php

declare(strict_types=1);

namespace Leadgate\Laravel\Facades;

use Illuminate\Support\Facades\Facade;
use Leadgate\Client;

/**
 * `Leadgate::submitLead($lead)`: the configured Leadgate\Client. It answers while the visitor
 * waits; to never lose a lead while leadgate is down, dispatch Leadgate\Laravel\SendLead instead.
 *
 * @method static \Leadgate\Accepted submitLead(array $lead, ?string $idempotencyKey = null)
 *
 * @see \Leadgate\Client
 */
final class Leadgate extends Facade
{
    protected static function getFacadeAccessor(): string
    {
        return Client::class;
    }
}

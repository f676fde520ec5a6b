<?php

declare(strict_types=1);

namespace Leadgate\Tests\Laravel;

use Illuminate\Container\Container;
use Illuminate\Contracts\Bus\Dispatcher;
use Illuminate\Contracts\Console\Kernel as ConsoleKernelContract;
use Illuminate\Foundation\Application;
use Illuminate\Support\Carbon;
use Illuminate\Support\Facades\Facade;
use Leadgate\Client;
use Leadgate\Laravel\Facades\Leadgate;
use Leadgate\Laravel\LeadgateServiceProvider;
use Leadgate\Laravel\SendLead;
use Leadgate\Unavailable;
use Leadgate\Tests\Support\Env;
use Leadgate\Tests\Support\Front;
use Leadgate\Tests\Support\LaravelApp;
use PHPUnit\Framework\TestCase;

/**
 * The Laravel integration in a minimal application (LaravelApp) with Debian's Laravel, against
 * the real leadgate behind the front.
 *
 * @group laravel
 */
final class LaravelTest extends TestCase
{
    private Application $app;

    protected function setUp(): void
    {
        $this->app = LaravelApp::boot();
    }

    protected function tearDown(): void
    {
        Carbon::setTestNow();
        Facade::clearResolvedInstances();
        Container::setInstance(null);
    }

    public function testTheProviderAndFacadeAreDiscoveredFromComposerJson(): void
    {
        self::assertNotEmpty($this->app->getProviders(LeadgateServiceProvider::class));
        $manifest = require $this->app->getCachedPackagesPath();
        self::assertSame(
            ['providers' => [LeadgateServiceProvider::class], 'aliases' => ['Leadgate' => Leadgate::class]],
            $manifest['leadgate/client'],
        );

        $client = $this->app->make(Client::class);
        self::assertInstanceOf(Client::class, $client);
        self::assertSame($client, $this->app->make('leadgate'));
        self::assertSame($client, Leadgate::getFacadeRoot());
    }

    public function testTheConfigComesFromTheEnvironment(): void
    {
        $config = $this->app->make('config');
        self::assertSame(Env::get('LEADGATE_URL'), $config->get('leadgate.url'));
        self::assertSame(Env::get('LEADGATE_KEY'), $config->get('leadgate.key'));
        self::assertSame(5.0, $config->get('leadgate.timeout'));
        self::assertSame(3, $config->get('leadgate.retries'));
    }

    public function testVendorPublishCopiesTheConfig(): void
    {
        $published = $this->app->configPath('leadgate.php');
        self::assertFileDoesNotExist($published);

        $code = $this->app->make(ConsoleKernelContract::class)->call('vendor:publish', ['--tag' => 'leadgate-config']);

        self::assertSame(0, $code);
        self::assertFileEquals(dirname(__DIR__, 2) . '/config/leadgate.php', $published);
    }

    public function testTheFacadeSubmits(): void
    {
        // The alias registered from extra.laravel.aliases, as a Blade view or route file uses it.
        $accepted = \Leadgate::submitLead(Env::lead('facade'));

        self::assertFalse($accepted->replayed);
        self::assertSame(['forwarded:202'], Front::outcomes($accepted->idempotencyKey));
        self::assertSame($accepted->id, Leadgate::submitLead(Env::lead('facade'), $accepted->idempotencyKey)->id);
    }

    public function testAQueuedLeadWaitsOutAnOutageAndIsCreatedOnce(): void
    {
        $this->app->make('config')->set(['leadgate.retries' => 1, 'leadgate.timeout' => 2]);
        Front::down();
        try {
            // What a brand site's controller does before it answers the visitor.
            $job = new SendLead(Env::lead('queued'));
            $this->app->make(Dispatcher::class)->dispatch($job);
            $queued = $this->jobs();
            self::assertCount(1, $queued);
            self::assertStringContainsString($job->idempotencyKey, $queued[0]->payload);

            $this->work();

            $released = $this->jobs();
            self::assertCount(1, $released, 'the lead stays queued while leadgate is down');
            self::assertSame(1, (int) $released[0]->attempts);
            self::assertGreaterThan(Carbon::now()->getTimestamp(), (int) $released[0]->available_at);
            self::assertSame(0, $this->failedJobs());
            self::assertSame(['reset', 'reset'], Front::outcomes($job->idempotencyKey));
        } finally {
            Front::up();
        }

        Carbon::setTestNow(Carbon::now()->addSeconds($job->backoff()[0]));
        $this->work();

        self::assertCount(0, $this->jobs());
        self::assertSame(0, $this->failedJobs());
        self::assertSame(['reset', 'reset', 'forwarded:202'], Front::outcomes($job->idempotencyKey));
    }

    public function testAJobWhoseAnswerWasLostGetsTheSameLeadOnItsNextAttempt(): void
    {
        // Each attempt sends once: the key must survive from one job attempt to the next.
        $this->app->make('config')->set(['leadgate.retries' => 0]);
        $job = new SendLead(Env::lead('queued-lost-answer'));
        Front::restartOnNext(true);
        $this->app->make(Dispatcher::class)->dispatch($job);

        $this->work();
        self::assertCount(1, $this->jobs(), 'released after the lost answer');
        self::assertSame(['lost:202'], Front::outcomes($job->idempotencyKey));

        Front::settle();
        Carbon::setTestNow(Carbon::now()->addSeconds($job->backoff()[0]));
        $this->work();

        self::assertCount(0, $this->jobs());
        self::assertSame(0, $this->failedJobs());
        $requests = Front::requests($job->idempotencyKey);
        $created = array_filter($requests, static fn (array $r): bool => $r['id'] !== null && !$r['replayed']);
        self::assertCount(1, $created, 'one lead, whatever the number of attempts');
        self::assertSame('lost', $requests[0]['outcome']);
        $last = $requests[count($requests) - 1];
        self::assertTrue($last['replayed']);
        self::assertSame($requests[0]['id'], $last['id']);
    }

    public function testALeadLeadgateRefusesFailsAtOnce(): void
    {
        $lead = Env::lead('queued-invalid');
        unset($lead['service']);
        $job = new SendLead($lead);
        $this->app->make(Dispatcher::class)->dispatch($job);

        $this->work();

        self::assertCount(0, $this->jobs());
        self::assertSame(1, $this->failedJobs());
        $failed = $this->app->make('db')->table('failed_jobs')->first();
        self::assertStringContainsString('Leadgate\ValidationFailed', $failed->exception);
        self::assertSame(['forwarded:400'], Front::outcomes($job->idempotencyKey));
    }

    public function testOnTheSyncConnectionAnOutageReachesTheCaller(): void
    {
        $this->app->make('config')->set(['leadgate.retries' => 0]);
        Front::down();
        try {
            $this->expectException(Unavailable::class);
            SendLead::dispatchSync(Env::lead('sync'));
        } finally {
            Front::up();
        }
    }

    /** `php artisan queue:work database --once`: one job, if one is due. */
    private function work(): void
    {
        $code = $this->app->make(ConsoleKernelContract::class)->call('queue:work', ['connection' => 'database', '--once' => true, '--sleep' => 0]);
        self::assertSame(0, $code);
    }

    /** @return list<object> */
    private function jobs(): array
    {
        return $this->app->make('db')->table('jobs')->get()->all();
    }

    private function failedJobs(): int
    {
        return $this->app->make('db')->table('failed_jobs')->count();
    }
}

<?php

declare(strict_types=1);

use Illuminate\Redis\Connections\PredisConnection;
use PHPUnit\Framework\TestCase;
use SalesForecast\Laravel\Exceptions\MisconfiguredConnection;
use SalesForecast\Laravel\ForecastDispatcher;

/**
 * The message and predis' prefix check, without a Redis server (predis connects lazily). phpredis
 * needs a live connection to set options: tests/laravel/in_laravel covers it against a real Redis.
 */
final class ForecastDispatcherTest extends TestCase
{
    public function testTheMessageIsACeleryProtocol2Envelope(): void
    {
        $dispatcher = new ForecastDispatcher(new PredisConnection(new Predis\Client()), 'forecasts');
        $message = json_decode($dispatcher->message([], 'id-1'), true);
        $this->assertSame('[[],{},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]', base64_decode($message['body']));
        $this->assertSame(['forecast.sales', 'id-1', 'id-1'], [$message['headers']['task'], $message['headers']['id'], $message['headers']['root_id']]);
        $this->assertSame(['exchange' => '', 'routing_key' => 'forecasts'], $message['properties']['delivery_info']);
        $this->assertSame('application/json', $message['content-type']);
        $this->expectException(InvalidArgumentException::class);
        $dispatcher->message([6], 'id-2');
    }

    public function testPrefixedConnectionsAreRefusedWithTheFix(): void
    {
        try {
            new ForecastDispatcher(new PredisConnection(new Predis\Client([], ['prefix' => 'laravel_database_'])), 'forecasts', 'default');
            $this->fail('a prefixed connection was accepted');
        } catch (MisconfiguredConnection $e) {
            $this->assertStringContainsString("Redis connection [default] prefixes every key with 'laravel_database_'", $e->getMessage());
            $this->assertStringContainsString("'laravel_database_forecasts', a list no forecast worker reads", $e->getMessage());
            $this->assertStringContainsString("'options' => ['prefix' => '']", $e->getMessage());
        }
        new ForecastDispatcher(new PredisConnection(new Predis\Client([], ['prefix' => ''])));  // an empty prefix is no prefix
        $this->addToAssertionCount(1);
    }
}

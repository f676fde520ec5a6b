<?php

// Published to config/leadgate.php by `php artisan vendor:publish --tag=leadgate-config`.
return [
    // leadgate's public URL, without /v1/leads.
    'url' => env('LEADGATE_URL'),

    // The brand's secret key (one of its `api_keys`): keep it in .env, never in a page.
    'key' => env('LEADGATE_KEY'),

    // Seconds per HTTP attempt, and the longest pause between attempts.
    'timeout' => (float) env('LEADGATE_TIMEOUT', 5),

    // Attempts after the first, within one submitLead() call.
    'retries' => (int) env('LEADGATE_RETRIES', 3),

    // Where Leadgate\Laravel\SendLead jobs go (null: the application's default connection and
    // queue). Use a durable connection (database, redis, sqs), not `sync`.
    'queue_connection' => env('LEADGATE_QUEUE_CONNECTION'),
    'queue' => env('LEADGATE_QUEUE'),
];

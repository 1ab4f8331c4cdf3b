<?php
/**
 * LPUSH a task message exactly as smuuf/celery-for-php (the maintained PHP Celery client)
 * produces it with its defaults (protocol 2, JSON, Redis broker), without Composer:
 * transcribed from its src/Messaging/MessageBuilder.php (asTaskVersion2),
 * src/Messaging/CeleryMessage.php (asArray), src/Producer.php (injectDeliveryInfo) and
 * src/Brokers/RedisBroker.php (base64 body, json_encode with JSON_UNESCAPED_SLASHES, lPush).
 * Notable differences from Celery's own producer: `retries` is null, `stamps` is [] and
 * `replaced_task_nesting` is absent.
 *
 *   php celery_for_php_message.php HOST PORT QUEUE TASK_ID KWARGS_JSON
 */
declare(strict_types=1);

[$_, $host, $port, $queue, $taskId, $kwargsJson] = $argv;
$kwargs = json_decode($kwargsJson, true, 32, JSON_THROW_ON_ERROR);

function uuid4(): string {
    $data = random_bytes(16);
    $data[6] = chr(ord($data[6]) & 0x0f | 0x40);
    $data[8] = chr(ord($data[8]) & 0x3f | 0x80);
    return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($data), 4));
}

// TaskSignature defaults: eta, expiration and retries null, time limit [null, null].
$headers = [
    'lang' => 'py',
    'task' => 'forecast.sales',
    'id' => $taskId,
    'shadow' => null,
    'eta' => null,
    'expires' => null,
    'group' => null,
    'group_index' => null,
    'retries' => null,
    'timelimit' => [null, null],
    'root_id' => $taskId,
    'parent_id' => null,
    'origin' => sprintf("c4p:%d@%s", getmypid(), gethostname()),
    'ignore_result' => false,
    'stamped_headers' => null,
    'stamps' => [],
];
$body = [
    [],
    (object) $kwargs,
    ['callbacks' => null, 'errbacks' => null, 'chain' => null, 'chord' => null],
];
$properties = [
    'correlation_id' => $taskId,
    'reply_to' => '',
    'delivery_mode' => 2,
    'delivery_info' => ['exchange' => '', 'routing_key' => $queue],
    'priority' => 0,
    'delivery_tag' => uuid4(),
];
// Producer::publishTask -> CeleryMessage::injectDeliveryInfo
$properties['delivery_info'] = ['exchange' => '', 'routing_key' => $queue];
// CeleryMessage::asArray (JsonSerializer::encode), then RedisBroker::getFinalMessageWithEncoding
$data = [
    'content-encoding' => 'utf-8',
    'content-type' => 'application/json',
    'body' => json_encode($body, JSON_UNESCAPED_SLASHES),
    'headers' => $headers,
    'properties' => $properties,
];
$data['body'] = base64_encode($data['body']);
$data['properties']['body_encoding'] = 'base64';

$redis = new Redis();
$redis->connect($host, (int) $port);
$redis->lPush($queue, json_encode($data, JSON_UNESCAPED_SLASHES));
echo $taskId, "\n";

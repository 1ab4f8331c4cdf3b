"""The PHP producer (examples/laravel) against a real worker: Laravel's side of docs/api.md §6.

php runs examples/laravel/forecast.php, which uses the package's ForecastDispatcher outside a
Laravel app (examples/laravel/bootstrap.php): it checks the request, LPUSHes the protocol-2
message, the worker runs the job, and PHP reads `celery-task-meta-<id>` back. Needs php-cli with
phpredis and Laravel's Illuminate components: skipped locally without them, a failure in CI.
"""
from __future__ import annotations

import base64
import json
import uuid
from datetime import date
from urllib.parse import urlsplit

import pytest

from shared.contract.schema import months_before
from tests.laravel.conftest import QUEUE, ROOT, Worker, require_php, run_php

pytestmark = pytest.mark.slow
CLI = "examples/laravel/forecast.php"
DEMO_CATEGORIES = 6  # the demo shop's sale lines (local/demo.py's catalogue): five categories, and lines without one


@pytest.fixture(scope="module")
def php() -> str:
    return require_php()


def _forecast(php: str, worker: Worker, *args: str) -> tuple[int, dict | None, str]:
    done = run_php(php, CLI, f"--redis={worker.redis_url}", *args)
    try:
        meta = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        meta = None
    return done.returncode, meta, done.stderr


def test_php_dispatches_a_forecast_and_reads_the_success_document(php: str, worker: Worker) -> None:
    code, meta, err = _forecast(php, worker, '--kwargs={"model": "linear", "horizon": 4, "level": 80}', "--timeout=120")
    assert code == 0, err + worker.log()[-3000:]
    assert meta["status"] == "SUCCESS"
    document = meta["result"]
    assert document["status"] == "success"
    forecast = document["data"]["forecast"]
    assert forecast["model"] == "linear" and len(forecast["horizon"]) == 4
    assert forecast["confidence_level"] == 80
    assert document["data"]["meta"]["task_id"] == meta["task_id"]
    assert document["data"]["actual_sales"], "the demo history is there"


def test_php_dispatches_a_grouped_forecast_and_prints_its_hierarchy(php: str, worker: Worker) -> None:
    """group_by and measure reach the worker, which reads the demo's sale lines; --hierarchy prints the total and levels."""
    start = months_before(date.today(), 13).isoformat()  # a year of the demo's many lines: a short fetch
    grouped = ("--group-by=category", "--measure=units", f'--kwargs={{"model": "linear", "horizon": 2, "start_date": "{start}"}}')
    code, message, err = _forecast(php, worker, *grouped, "--dry-run")
    assert code == 0, err
    kwargs = json.loads(base64.b64decode(message["body"]))[1]
    assert kwargs == {"model": "linear", "horizon": 2, "start_date": start, "group_by": ["category"], "measure": "units"}

    code, out, err = _forecast(php, worker, *grouped, "--hierarchy", "--timeout=120")
    assert code == 0, err + worker.log()[-3000:]
    meta = worker.meta(out["task_id"])
    assert out["status"] == "SUCCESS" and out["error"] is None
    assert out["forecast"] == meta["result"]["data"]["forecast"] and len(out["forecast"]["horizon"]) == 2
    hierarchy = out["hierarchy"]
    assert hierarchy == meta["result"]["data"]["hierarchy"]
    assert hierarchy["group_by"] == ["category"] and hierarchy["measure"] == "units" and hierarchy["coherent"] is True
    [level] = hierarchy["levels"]
    assert level["fields"] == ["category"] and level["series"] == DEMO_CATEGORIES
    assert hierarchy["series"] == DEMO_CATEGORIES + 1  # and the total
    assert hierarchy["series_url"] == f"/api/v1/forecasts/{out['task_id']}/series"

    # A field that no sale line has: the worker fails the job, naming it.
    code, out, err = _forecast(php, worker, "--group-by=no_such_field", f'--kwargs={{"horizon": 2, "start_date": "{start}"}}',
                               "--hierarchy", "--timeout=60")
    assert code == 1 and out["status"] == "FAILURE" and out["error"]["code"] == "invalid_request", err
    assert out["hierarchy"] is None and out["forecast"] is None


def test_php_reads_a_failure_with_a_stable_code(php: str, worker: Worker) -> None:
    # A callback host outside CALLBACK_ALLOWED_HOSTS: a well-formed request that the worker fails.
    kwargs = '--kwargs={"horizon": 3, "model": "linear", "callback_url": "http://169.254.169.254/latest/meta-data"}'
    code, meta, err = _forecast(php, worker, kwargs, "--timeout=60")
    assert code == 1, err
    assert meta["status"] == "FAILURE"
    assert meta["result"]["exc_type"] == "InvalidRequest"
    assert meta["result"]["exc_message"][0] == "invalid_request"
    assert "not allowed" in meta["result"]["exc_message"][1]
    assert "failed: invalid_request" in err


@pytest.mark.parametrize("kwargs", ['{"horizon": 99}', '{"horizon": 3, "colour": "red"}'])
def test_php_refuses_what_the_service_would_before_sending_it(php: str, worker: Worker, kwargs: str) -> None:
    """The package's ForecastRequest checks the request as the service does: nothing reaches the queue."""
    queued = worker.client.llen("php-refused")
    code, meta, err = _forecast(php, worker, f"--kwargs={kwargs}", "--queue=php-refused", "--timeout=5")
    assert code == 64 and meta is None and "invalid_request: " in err, err
    assert worker.client.llen("php-refused") == queued == 0


def test_php_wait_times_out_with_exit_code_2(php: str, worker: Worker) -> None:
    code, meta, err = _forecast(php, worker, "--queue=nobody-consumes-this", "--timeout=0.5")
    assert code == 2 and meta is None and "did not finish" in err
    worker.client.delete("nobody-consumes-this")


def test_php_message_matches_celerys_own_fields(php: str, worker: Worker) -> None:
    """Every header and property Celery's producer writes is in the PHP message, same types."""
    from shared.contract.config import Settings
    from web.celery_client import create_celery_client

    app = create_celery_client(Settings(redis_url=worker.redis_url), bounded=False)
    app.send_task("forecast.sales", kwargs={"horizon": 6}, queue="compare")
    celery_msg = json.loads(worker.client.rpop("compare"))
    done = run_php(php, CLI, f"--redis={worker.redis_url}", "--dry-run", '--kwargs={"horizon": 6}', "--id=x")
    php_msg = json.loads(done.stdout)
    assert set(php_msg) == set(celery_msg)
    assert set(php_msg["headers"]) == set(celery_msg["headers"])
    assert set(php_msg["properties"]) == set(celery_msg["properties"])
    assert json.loads(base64.b64decode(php_msg["body"])) == json.loads(base64.b64decode(celery_msg["body"]))
    assert php_msg["properties"]["delivery_info"] == {"exchange": "", "routing_key": QUEUE}


def test_php_refuses_a_prefixed_redis_connection(php: str, worker: Worker) -> None:
    """Laravel's default key prefix would put the message where no worker looks: refused loudly."""
    port = urlsplit(worker.redis_url).port
    script = (
        f"require '{ROOT}/examples/laravel/bootstrap.php';"
        f"$r = new Redis(); $r->connect('127.0.0.1', {port});"
        "$r->setOption(Redis::OPT_PREFIX, 'laravel_database_');"
        "try { new SalesForecast\\Laravel\\ForecastDispatcher(forecast_connection($r)); exit(0); }"
        "catch (SalesForecast\\Laravel\\Exceptions\\MisconfiguredConnection $e) { echo $e->getMessage(); exit(3); }"
    )
    done = run_php(php, "-r", script)
    assert done.returncode == 3 and "prefix" in done.stdout


def test_celery_for_php_message_is_accepted(php: str, worker: Worker) -> None:
    """A message as smuuf/celery-for-php sends it (retries null, stamps []) runs to SUCCESS."""
    task_id = str(uuid.uuid4())
    port = urlsplit(worker.redis_url).port
    done = run_php(
        php, "tests/laravel/celery_for_php_message.php", "127.0.0.1", str(port), QUEUE, task_id,
        json.dumps({"model": "linear", "horizon": 2}),
    )
    assert done.returncode == 0, done.stderr
    meta = worker.wait_final(task_id, timeout=120)
    assert meta["status"] == "SUCCESS", meta
    assert meta["result"]["data"]["forecast"]["model"] == "linear"
    assert not worker.dead_letters()

"""docker-compose.yml, checked without a Docker engine.

It is validated against the Compose Specification's JSON schema (the copy that the
check-jsonschema package vendors from compose-spec/compose-spec, Apache-2.0), after the same
`${VAR}` interpolation Compose does; and its commands are compared, argv for argv, with those of
stack/commands.py, which the local runner and the end-to-end tests start.
"""
from __future__ import annotations

import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import pytest
import yaml

from stack import commands

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"
REQUIRED = {"REDIS_PASSWORD", "POSTGRES_PASSWORD", "SECRET_KEY", "FLOWER_BASIC_AUTH", "LARAVEL_API_URL"}
SAMPLE_ENV = {
    "REDIS_PASSWORD": "0123456789abcdef",
    "POSTGRES_PASSWORD": "fedcba9876543210",
    "SECRET_KEY": "a-secret-key-for-tests",
    "FLOWER_BASIC_AUTH": "ops:flower-password",
    "LARAVEL_API_URL": "https://shop.example.com/api",
}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, $$
_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's interpolation of every string in the file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        unset_or_empty = not current
        missing = unset_or_empty if op and op.startswith(":") else current is None
        if op in (":-", "-"):
            return arg if missing else current
        if op in (":?", "?"):
            if missing:
                raise MissingVariable(f"{name}: {arg}")
            return current
        if op in (":+", "+"):
            return "" if missing else arg
        return current or ""

    return _VAR.sub(one, value)


def names_used(value: Any) -> set[str]:
    text = json.dumps(value)
    return {m.group("name") or m.group("bare") for m in _VAR.finditer(text) if m.group(0) != "$$"}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # merges `<<:` keys too


@pytest.fixture(scope="module")
def compose(raw) -> dict[str, Any]:
    return interpolate(raw, SAMPLE_ENV)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    try:
        vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        if os.environ.get("CI"):
            pytest.fail("check-jsonschema is not installed: the dev extra pins it (it ships compose-spec.json)")
        pytest.skip("check-jsonschema is not installed")
    return json.loads(vendor.joinpath("compose-spec.json").read_text())


def _validator(schema):
    import jsonschema

    return jsonschema.validators.validator_for(schema)(schema)


def test_valid_against_the_compose_specification(schema, compose):
    errors = sorted(_validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_does_reject_mistakes(schema, compose):
    """The validation is not vacuous: a misspelt key and a bad condition are caught."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["worker"]["comand"] = ["celery"]
    broken["services"]["web"]["depends_on"]["redis"]["condition"] = "service_ready"
    paths = {tuple(e.absolute_path) for e in _validator(schema).iter_errors(broken)}
    assert ("services", "worker") in paths
    assert any(p[:3] == ("services", "web", "depends_on") for p in paths)


def test_commands_are_those_of_stack_commands(compose):
    services = compose["services"]
    assert services["web"]["command"] == commands.web(host="0.0.0.0", port=8000)
    assert services["worker"]["command"] == commands.worker(queue="forecasts", concurrency=2)
    assert services["beat"]["command"] == commands.beat("var/celerybeat-schedule")
    assert services["flower"]["command"] == commands.flower(5555)


def test_the_worker_consumes_the_configured_queue(raw):
    compose = interpolate(raw, {**SAMPLE_ENV, "FORECAST_QUEUE": "sales-jobs"})
    assert compose["services"]["worker"]["command"] == commands.worker(queue="sales-jobs", concurrency=2)


def test_images_run_what_compose_runs(compose):
    """Without `command:`, the images' CMD would run the same thing."""
    from tests.ops.test_dockerfiles import exec_form, final_stage, parse_dockerfile

    for service, dockerfile in (("web", "Dockerfile.web"), ("worker", "Dockerfile.worker")):
        assert compose["services"][service]["build"]["dockerfile"] == dockerfile
        cmd = [i.args for i in final_stage(parse_dockerfile(ROOT / dockerfile)) if i.keyword == "CMD"][0]
        assert exec_form(cmd) == compose["services"][service]["command"]


def test_worker_scales(compose):
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker
    assert "--events" in worker["command"], "Flower needs task events"
    assert compose["services"]["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_health_checks_and_start_order(compose):
    services = compose["services"]
    for name in ("redis", "web", "worker", "flower"):
        check = services[name]["healthcheck"]
        assert check["test"] and not check.get("disable"), name
    assert services["beat"]["healthcheck"] == {"disable": True}  # the image's check pings workers
    for name in ("web", "worker", "beat", "flower"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_redis_persists_and_requires_the_password(compose):
    redis = compose["services"]["redis"]
    argv = redis["command"]
    assert argv[argv.index("--appendonly") + 1] == "yes"
    assert argv[argv.index("--requirepass") + 1] == SAMPLE_ENV["REDIS_PASSWORD"]
    assert any(v.endswith(":/data") and v.split(":")[0] in compose["volumes"] for v in redis["volumes"])
    for name in ("web", "worker", "beat", "flower"):
        url = compose["services"][name]["environment"]["REDIS_URL"]
        assert url == f"redis://:{SAMPLE_ENV['REDIS_PASSWORD']}@redis:6379/0", name


def test_models_live_on_a_named_volume(compose):
    worker = compose["services"]["worker"]
    model_dir = worker["environment"]["MODEL_DIR"]
    assert f"models:{model_dir}" in worker["volumes"] and "models" in compose["volumes"]
    beat = compose["services"]["beat"]
    assert any(v.split(":")[0] in compose["volumes"] and v.endswith(":/app/var") for v in beat["volumes"])


def test_the_worker_runs_one_math_thread_per_pool_process(compose):
    environment = compose["services"]["worker"]["environment"]
    assert {k: environment.get(k) for k in commands.WORKER_ENV} == commands.WORKER_ENV


def test_flower_has_basic_auth_from_the_environment(compose):
    flower = compose["services"]["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == SAMPLE_ENV["FLOWER_BASIC_AUTH"]
    assert not any("basic" in arg for arg in flower["command"]), "credentials stay out of argv"
    assert all(str(p).startswith("127.0.0.1:") for p in flower["ports"])


def test_compose_refuses_to_start_without_the_secrets(raw):
    for name in REQUIRED:
        env = {k: v for k, v in SAMPLE_ENV.items() if k != name}
        with pytest.raises(MissingVariable, match=name):
            interpolate(raw, env)


def _settings_variables() -> set[str]:
    source = (ROOT / "shared" / "contract" / "config.py").read_text()
    return set(re.findall(r'get\(\s*"([A-Z][A-Z0-9_]+)"', source))


def _documented() -> dict[str, str]:
    """Variables in .env.example (set or commented out) -> the comment block above them."""
    documented: dict[str, str] = {}
    comment: list[str] = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]+)=", line)
        if match:
            documented[match.group(1)] = " ".join(comment)
            comment = [] if not line.startswith("#") else comment
        elif line.startswith("#") and not line.startswith("# ----"):
            comment.append(line.lstrip("# "))
        elif not line.strip():
            comment = []
    return documented


def test_env_example_documents_every_variable(raw):
    documented = _documented()
    wanted = _settings_variables() | names_used(raw) | {"PROMETHEUS_MULTIPROC_DIR"}
    section = API_DOC.read_text().split("## 2.", 1)[1].split("\n## ", 1)[0]  # docs/api.md §2
    wanted |= set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`", section))  # every name has a _
    assert _settings_variables() >= {"REDIS_URL", "FORECAST_REFRESH_CRON", "UPSTREAM_TASK_RETRIES"}
    missing = sorted(wanted - set(documented))
    assert not missing, f".env.example does not document {missing}"
    uncommented = sorted(name for name in wanted if not documented[name].strip())
    assert not uncommented, f"no comment above {uncommented} in .env.example"


def test_env_example_sets_no_secret():
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            assert value == "", f"{name} has a value in .env.example: secrets go in .env only"


def test_the_history_database_and_its_one_shot_migrations(compose):
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD"] == SAMPLE_ENV["POSTGRES_PASSWORD"]
    assert any(v.split(":")[0] in compose["volumes"] and v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "ports" not in postgres
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "-m", "shared.history", "upgrade"]
    assert migrate["restart"] == "no" and "deploy" not in migrate  # one process, once
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = f"postgresql://sales_forecast:{SAMPLE_ENV['POSTGRES_PASSWORD']}@postgres:5432/sales_forecast"
    for name in ("migrate", "web", "worker"):
        assert services[name]["environment"]["DATABASE_URL"] == url, name
    for name in ("web", "worker"):  # they never migrate themselves: they wait for the one-shot
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_the_sentinel_profile(raw):
    """`--profile sentinel`: one master (redis), one replica, three sentinels with a quorum of two."""
    compose = interpolate(raw, {**SAMPLE_ENV, "REDIS_SENTINEL_MASTER": "sales"})
    services = compose["services"]
    profiled = {name for name, service in services.items() if "sentinel" in service.get("profiles", [])}
    assert profiled == {"redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"}
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1: replica.index("--replicaof") + 3] == ["redis", "6379"]
    for argv in (replica, services["redis"]["command"]):  # either may be the master's replica
        assert argv[argv.index("--masterauth") + 1] == SAMPLE_ENV["REDIS_PASSWORD"]
    volumes = set()
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        script = services[name]["command"][-1]
        assert "sentinel monitor sales redis 6379 2" in script and "--sentinel" in script
        assert f"sentinel auth-pass sales {SAMPLE_ENV['REDIS_PASSWORD']}" in script
        assert services[name]["healthcheck"]["test"] and "ports" not in services[name]
        volumes |= {v.split(":")[0] for v in services[name]["volumes"]}
    assert len(volumes) == 3 and volumes <= set(compose["volumes"])  # each its own configuration
    # the default profile is unchanged: no app container waits for a sentinel
    for name in ("web", "worker", "beat", "flower", "migrate"):
        assert not set(services[name].get("depends_on", {})) & profiled, name

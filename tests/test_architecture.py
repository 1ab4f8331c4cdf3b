"""The arrows between packages, checked on the source (docs/architecture.md says why).

- ``web`` imports nothing from ``worker`` (its image has no modelling stack, its process no
  poison guard, schedule or worker signals);
- ``shared`` is pure: no Flask, Celery or kombu, nothing from ``web``, ``worker`` or ``stack``;
- inside ``shared`` the tiers only point down: ``contract`` imports nothing of the project and
  only the standard library and pydantic; ``stores``, ``history`` and ``sources`` import
  ``contract``; ``engine`` may import them all; none imports ``engine``;
- the web app, imported in a fresh interpreter, loads no numpy, pandas, scipy or statsforecast;
- no import circle between modules, counting imports inside functions too (a lazy import that
  closes a circle is still a circle);
- ``os.environ`` is read only by the settings factory and the process entry points.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "web", "worker", "stack", "local")
# Entry points may read the environment: they hand it to Settings.from_env or to child processes.
ENVIRON_ALLOWED = {"shared/contract/config.py", "stack/runner.py"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else ():
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _internal(name: str) -> str | None:
    """The project module an import name refers to (``shared.contract.config.Settings`` -> shared.contract.config)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


GRAPH = {
    module: {target for name in _imports(path) if (target := _internal(name)) and target != module}
    for module, path in MODULES.items()
}
RAW = {module: _imports(path) for module, path in MODULES.items()}


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def test_the_packages_are_found():
    assert {"shared.contract.config", "web.app", "worker.tasks"} <= set(MODULES)


def test_web_imports_nothing_from_worker():
    bad = {m: sorted(n for n in RAW[m] if _top(n) == "worker") for m in MODULES if _top(m) == "web"}
    assert not {m: n for m, n in bad.items() if n}


@pytest.mark.parametrize("forbidden", ["flask", "celery", "kombu", "web", "worker", "stack", "local"])
def test_shared_is_pure(forbidden):
    bad = {m: sorted(n for n in RAW[m] if _top(n) == forbidden) for m in MODULES if _top(m) == "shared"}
    assert not {m: n for m, n in bad.items() if n}


def test_no_import_circles():
    # Tarjan's strongly connected components: any component of more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not circles


def test_environment_is_read_only_by_the_settings_factory_and_entry_points():
    readers = []
    for module, path in MODULES.items():
        rel = str(path.relative_to(ROOT))
        if rel in ENVIRON_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                if isinstance(node.value, ast.Name) and node.value.id == "os":
                    readers.append(f"{rel}:{node.lineno}")
    assert not readers


def test_no_module_imports_another_modules_private_names():
    bad = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and _internal(node.module):
                bad += [f"{module}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not bad


# ---- the tiers inside shared/ ---------------------------------------------------------------
# What each tier of shared/ may import of the project (besides itself).
TIERS = {
    "contract": set(),
    "stores": {"contract"},
    "history": {"contract"},
    "sources": {"contract"},
    "engine": {"contract", "stores", "history", "sources"},
}
# Third-party packages the contract tier may import: it is what the web loads for every request.
CONTRACT_THIRD_PARTY = {"pydantic", "pydantic_core", "typing_extensions"}
MODELLING_STACK = ("numpy", "pandas", "scipy", "statsforecast", "hierarchicalforecast", "sklearn", "joblib")


def _tier(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "shared" and parts[1] in TIERS else None


def test_every_shared_module_is_in_a_tier():
    loose = [m for m in MODULES if _top(m) == "shared" and m != "shared" and _tier(m) is None]
    assert not loose


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_shared_tiers_point_down(tier):
    bad = []
    for module, targets in GRAPH.items():
        if _tier(module) != tier:
            continue
        for target in targets:
            other = _tier(target)
            if other is not None and other != tier and other not in TIERS[tier]:
                bad.append(f"{module} -> {target}")
    assert not bad


def test_the_contract_tier_imports_only_the_standard_library_and_pydantic():
    import sys

    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = []
    for module, names in RAW.items():
        if _tier(module) != "contract":
            continue
        for name in names:
            top = _top(name)
            if top not in stdlib and top not in CONTRACT_THIRD_PARTY and not (top == "shared" and _tier(name) == "contract"):
                bad.append(f"{module}: {name}")
    assert not bad


def test_the_web_app_loads_no_modelling_stack():
    """A fresh interpreter that builds the web app has none of the modelling stack in sys.modules."""
    import subprocess
    import sys

    code = (
        "import sys; from web.app import create_app; from shared.contract.config import Settings; "
        "create_app(Settings(redis_url='redis://127.0.0.1:1/0')); "
        f"print(','.join(sorted(m for m in {MODELLING_STACK!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1:] in ([""], []), out.stdout


def test_no_circle_between_packages():
    """The top-level packages form no circle either (``stack`` may use ``local``'s aids, never back)."""
    edges = {(_top(m), _top(t)) for m, targets in GRAPH.items() for t in targets if _top(m) != _top(t)}
    assert not {(a, b) for a, b in edges if (b, a) in edges}

"""The arrows between packages, checked on the source (docs/architecture.md says why).

- ``web`` imports nothing from ``worker`` (its image has no modelling stack, its process no
  poison guard, schedule or worker signals);
- ``shared`` is pure: no Flask, Celery or kombu, nothing from ``web``, ``worker`` or ``stack``;
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
ENVIRON_ALLOWED = {"shared/config.py", "stack/runner.py"}


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
    """The project module an import name refers to (``shared.config.Settings`` -> shared.config)."""
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
    assert {"shared.config", "web.app", "worker.tasks"} <= set(MODULES)


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

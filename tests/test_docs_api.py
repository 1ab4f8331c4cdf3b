"""docs/api.md, the public interface, keeps up with the code: every setting, route and error code
is written down, and nothing points at the contract file users who clone the repository lack."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from shared.contract.config import Settings
from shared.contract.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[1]
API_DOC = ROOT / "docs" / "api.md"
# Spelled in two parts so that this file does not name it itself.
OLD_CONTRACT = "CONTRACT" + ".md"
# Not ours to edit, or not ours at all.
SKIPPED = ("packages/laravel-sales-forecast/", "web/static/vendor/")


def section(number: int) -> str:
    """The text of ``## <number>.`` in docs/api.md, up to the next section."""
    text = API_DOC.read_text()
    match = re.search(rf"^## {number}\. .*?(?=^## \d+\. |\Z)", text, flags=re.M | re.S)
    assert match, f"docs/api.md has no section {number}"
    return match.group(0)


def settings_variables() -> set[str]:
    """Every variable Settings.from_env reads: asked of from_env itself, with a recording mapping."""

    class Recording(dict):
        def get(self, key, default=None):
            self.setdefault("__asked__", set()).add(key)
            return default

    env = Recording()
    Settings.from_env(env)
    return env["__asked__"]


def test_the_sections_keep_their_numbers():
    titles = re.findall(r"^## (\d+)\. ", API_DOC.read_text(), flags=re.M)
    assert [int(n) for n in titles] == list(range(1, 14))


def test_every_setting_is_in_section_2_and_env_example():
    names = settings_variables()
    assert {"REDIS_URL", "API_KEYS", "DATABASE_URL", "CHUNK_SIZE"} <= names  # the recording works
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section(2)))
    env_example = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    assert not sorted(names - documented), "missing from docs/api.md §2"
    assert not sorted(names - env_example), "missing from .env.example"


def test_every_error_code_is_in_section_7():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section(7), flags=re.M))
    assert {str(code) for code in ErrorCode} <= documented


def _route_text(rule: str) -> str:
    """A URL rule as docs/api.md writes it: ``<task_id>`` as ``{task_id}``, ``<path:filename>`` as ``<path>``."""
    if rule.startswith("/static/"):
        return "/static/<path>"
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_route_is_documented():
    """Each route as `METHOD /path`: in §4's table of every route, or in the section that documents it."""
    from web.app import create_app

    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))
    text = "\n".join(section(n) for n in range(4, 14))
    missing = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if f"`{method} {_route_text(rule.rule)}`" not in text:
                missing.append(f"{method} {rule.rule}")
    assert not missing, "routes missing from docs/api.md (add them to §4's table of every route)"


def test_nothing_points_at_the_old_contract_file():
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    pointing = []
    for name in files:
        if name.startswith(SKIPPED):
            continue
        path = ROOT / name
        try:
            if OLD_CONTRACT in path.read_text(encoding="utf-8", errors="ignore"):
                pointing.append(name)
        except (IsADirectoryError, FileNotFoundError):
            continue
    assert not pointing, f"these name {OLD_CONTRACT}: point at docs/api.md §N instead"

"""The Laravels the package is tested on: Debian's php-laravel-framework, on this machine and in chroots.

``bookworm`` is the machine's own PHP (Debian 12: Laravel 8.83, PHP 8.2). ``trixie`` (Laravel 10,
PHP 8.4) and ``sid`` (Laravel 13, PHP 8.4) are Debian chroots that scripts/laravel_chroots.sh
builds under /var/cache/sales-forecast/chroots (``SALES_FORECAST_CHROOTS``). A chroot's php,
composer and phpunit run with ``chroot`` inside a private mount namespace (``unshare --mount``)
that binds the checkout and the tests' temporary directory at the same paths as outside, so paths
need no translation and no mount outlives the command. The chroot shares the host's network: the
service's processes stay on the host and are reached over 127.0.0.1.

A runtime that is not there skips its tests locally and fails them in CI (``CI`` set), as every
other missing dependency of these tests does.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = "bookworm"
# Oldest first; the host's first, so tests run only on it share its fixtures with the others.
NAMES: tuple[str, ...] = (HOST, "trixie", "sid")

# What the suite needs in a runtime: phpredis, pdo_sqlite, curl, Laravel, predis and Guzzle.
_CHECK = (
    "exit(class_exists('Redis') && extension_loaded('pdo_sqlite') && extension_loaded('curl')"
    " && stream_resolve_include_path('Illuminate/autoload.php')"
    " && stream_resolve_include_path('Predis/autoload.php')"
    " && stream_resolve_include_path('GuzzleHttp/autoload.php') ? 0 : 1);"
)
_VERSIONS = (
    "require 'Illuminate/autoload.php'; require 'Predis/autoload.php';"
    " echo json_encode(['laravel' => Illuminate\\Foundation\\Application::VERSION, 'php' => PHP_VERSION,"
    " 'phpredis' => phpversion('redis'), 'predis' => Predis\\Client::VERSION]);"
)
# Run inside a fresh mount namespace: bind each directory given before "--" at the same path under
# the chroot, mount /proc, then chroot, cd and exec the command (so its pid is the one Popen has).
_ENTER = r"""
root=$1; cwd=$2; shift 2
while [ "$1" != "--" ]; do
  mkdir -p "$root$1" && mount --rbind "$1" "$root$1" || exit 125
  shift
done
shift
mount -t proc proc "$root/proc" || exit 125
exec chroot "$root" /bin/sh -c 'cd "$0" && exec "$@"' "$cwd" "$@"
"""
APT_HINT = (
    "apt-get install php-cli php-redis php-sqlite3 php-curl php-mbstring php-xml php-laravel-framework "
    "php-predis php-guzzlehttp-guzzle composer phpunit"
)


@dataclass
class Runtime:
    """One Debian release's PHP and Laravel: ``root`` is its chroot, None for this machine's own."""

    name: str
    root: Path | None
    binds: tuple[Path, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)

    def argv(self, args: Sequence[str], cwd: Path | str) -> list[str]:
        """The command line that runs ``args`` (php, composer, phpunit...) in ``cwd`` in this runtime."""
        if self.root is None:
            return list(args)
        binds = [str(p) for p in self.binds]
        return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", _ENTER, "sh",
                str(self.root), str(cwd), *binds, "--", *args]

    def run(self, args: Sequence[str], cwd: Path | str = ROOT, **kw: Any) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.argv(args, cwd), cwd=cwd, **kw)

    @property
    def laravel(self) -> str:
        return self.versions["laravel"]

    def describe(self) -> str:
        v = self.versions
        where = f"Debian {self.name}, a chroot" if self.root else f"Debian {_host_release()}, this machine"
        return (f"Laravel {v['laravel']} ({where}): PHP {v['php']}, "
                f"phpredis {v['phpredis']}, predis {v['predis']}, PHPUnit {v.get('phpunit', '?')}")


def chroots_dir() -> Path:
    """Where scripts/laravel_chroots.sh puts the chroots (``SALES_FORECAST_CHROOTS``, as the script reads it)."""
    return Path(os.environ.get("SALES_FORECAST_CHROOTS", "/var/cache/sales-forecast/chroots"))


def _host_release() -> str:
    """This machine's Debian codename, for the summary line (the CI machine is bookworm)."""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip('"') or HOST
    except OSError:
        pass
    return HOST


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must not skip these tests")
    pytest.skip(message)


def open_runtime(name: str, binds: Sequence[Path]) -> Runtime:
    """The runtime ``name``, checked and with its versions read; skips locally, fails in CI without it."""
    if name == HOST:
        runtime = Runtime(name, None)
        if not (shutil.which("php") and shutil.which("composer")):
            _missing(f"Laravel from Debian is required ({APT_HINT})")
    else:
        root = chroots_dir() / name
        runtime = Runtime(name, root, tuple(binds))
        if not (root / ".sales-forecast-key").is_file():
            _missing(f"the Debian {name} chroot is not built ({root}): run scripts/laravel_chroots.sh as root")
        if os.geteuid() != 0 or not shutil.which("unshare"):
            _missing(f"running PHP in the Debian {name} chroot needs root and unshare")
    if runtime.run(["php", "-r", _CHECK]).returncode != 0:
        _missing(f"PHP with Laravel is incomplete in the {name} runtime ({APT_HINT})")
    done = runtime.run(["php", "-r", _VERSIONS])
    if done.returncode != 0:
        _missing(f"cannot read the {name} runtime's versions: {done.stderr[-500:]}")
    runtime.versions = json.loads(done.stdout)
    phpunit = runtime.run(["phpunit", "--version"])
    if phpunit.returncode == 0 and phpunit.stdout.split():
        runtime.versions["phpunit"] = phpunit.stdout.split()[1]
    return runtime

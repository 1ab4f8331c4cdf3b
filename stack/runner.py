"""`make run`: the whole stack on this machine, with nothing but Python installed.

Starts an embedded Redis when REDIS_URL is unset, the bundled demo sales source when
LARAVEL_API_URL is unset, then the worker, the web server (gunicorn) and Flower; beat with
--beat. Web and Flower listen on 127.0.0.1 unless WEB_HOST / FLOWER_ADDRESS say otherwise.
Prints the URLs and credentials; Ctrl-C, `kill -INT` and `kill -TERM` stop everything it started.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from shared.contract.config import Settings, redact_url
from stack.local import LocalStack

BANNER = "=" * 78


def _secret_key(var: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    path = var / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def main(argv: list[str] | None = None) -> int:
    """``make run``: start the stack with a generated SECRET_KEY (kept under ``var/``) and Flower
    password where unset, print where everything is, and watch it; 0 on Ctrl-C or SIGTERM, 1 if it
    could not start or a process exited."""
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--beat", action="store_true", help="also run Celery beat (scheduled refresh)")
    parser.add_argument("--no-flower", action="store_true", help="do not start Flower")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    root = Path.cwd()
    var = root / "var"
    env = dict(os.environ)
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = _secret_key(var)
    generated_flower = not env.get("FLOWER_BASIC_AUTH")
    if generated_flower:
        env["FLOWER_BASIC_AUTH"] = f"admin:{secrets.token_urlsafe(12)}"
    env.setdefault("MODEL_DIR", str(var / "models"))

    stack = LocalStack(env, root=root, flower=not args.no_flower, beat=args.beat, worker_concurrency=args.concurrency)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    # Explicitly, not Python's default: a shell starts background jobs with SIGINT ignored, and
    # Python then leaves it ignored, so `kill -INT` (or Ctrl-C after `fg`) would do nothing.
    signal.signal(signal.SIGINT, _stop)
    try:
        print("starting the stack...", flush=True)
        stack.start(ready_timeout=120)
        settings = Settings.from_env(stack.env)
        lines = [BANNER, "sales-forecast is running"]
        lines.append(f"  web        {stack.web_url}   (API docs: {stack.web_url}/docs)")
        if not args.no_flower:
            # A generated login is printed (no one else knows it); an operator's own is not.
            login = f"login {env['FLOWER_BASIC_AUTH']}  (generated)" if generated_flower else "login from FLOWER_BASIC_AUTH"
            lines.append(f"  flower     http://{stack.env['FLOWER_ADDRESS']}:{settings.flower_port}   {login}")
        lines.append(f"  redis      {settings.redis_description}" + ("  (embedded)" if stack.embedded_redis else ""))
        if stack.demo_source:
            lines += ["", "  !!! LARAVEL_API_URL is unset: serving the BUNDLED DEMO sales history !!!",
                      f"  !!! demo source at {settings.laravel_api_url}; set LARAVEL_API_URL for real data !!!"]
        else:
            lines.append(f"  laravel    {redact_url(settings.laravel_api_url)}")
        if not settings.api_keys:
            lines.append("  API_KEYS is unset: the API needs no key")
        lines += ["", f"  try:  curl -s -XPOST {stack.web_url}/api/v1/forecasts -H 'Content-Type: application/json' -d '{{}}'",
                  "  Ctrl-C stops everything.", BANNER]
        print("\n".join(lines), flush=True)
        while True:
            for managed in list(stack.processes.values()):
                if managed.process.poll() is not None:
                    print(f"{managed.name} exited with {managed.process.returncode}; stopping", flush=True)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m shared.history upgrade|current``: the history's migrations, for DATABASE_URL."""
from __future__ import annotations

import argparse
import logging
import sys

from shared.contract.config import Settings, redact_url
from shared.history import migrate


def main(argv: list[str] | None = None) -> int:
    """Run ``upgrade`` or ``current`` against the environment's DATABASE_URL (default: the SQLite file),
    printing the revision; the exit status for ``sys.exit``."""
    parser = argparse.ArgumentParser(prog="python -m shared.history", description=__doc__)
    parser.add_argument("command", choices=["upgrade", "current"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    url = Settings.from_env().effective_database_url
    if args.command == "upgrade":
        revision = migrate.upgrade(url)
        print(f"history database {redact_url(url)} at revision {revision}", flush=True)
    else:
        print(migrate.current(url) or "none", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

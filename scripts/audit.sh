#!/usr/bin/env bash
# Known vulnerabilities in the locked dependencies: pip-audit over constraints.txt (the exact
# versions every install uses), against PyPI's vulnerability data (the OSV-backed JSON API).
#
#   scripts/audit.sh                 # audit constraints.txt
#   scripts/audit.sh --installed     # audit what is installed in .venv instead
#
# Exit codes: 0 no known vulnerability, 1 vulnerabilities found (listed), 2 the vulnerability
# service could not be reached (nothing was checked: never read that as "clean").
# Findings are triaged in docs/reliability.md; an accepted one is listed with --ignore-vuln below,
# with its reason beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PIP_AUDIT="$VENV/bin/pip-audit"
[ -x "$PIP_AUDIT" ] || { echo "pip-audit is not installed in $VENV (pip install -c constraints.txt pip-audit)" >&2; exit 2; }

IGNORES=(
  # --ignore-vuln ID   # reason, and when to look again
)

if [ "${1:-}" = "--installed" ]; then
  target=(--local)
else
  # --no-deps: constraints.txt already pins every transitive dependency; --disable-pip: check
  # the pinned versions as written, without resolving (and downloading) them again.
  target=(--requirement constraints.txt --no-deps --disable-pip)
fi

set +e
out=$("$PIP_AUDIT" "${target[@]}" --vulnerability-service pypi --progress-spinner off --desc on "${IGNORES[@]}" 2>&1)
rc=$?
set -e
echo "$out"
# pip-audit reports "No known vulnerabilities found" and exits 0 even when it could look up
# nothing (a registry mirror without PyPI's JSON API answers 404 for every package): count them.
skipped=$(grep -c "could not be audited" <<<"$out" || true)
pinned=$(grep -cE '^[A-Za-z0-9._-]+==' constraints.txt || true)
if [ "$skipped" -gt 0 ]; then
  echo "audit: $skipped of $pinned pinned packages could not be looked up (see above)" >&2
  if [ "${1:-}" != "--installed" ] && [ "$skipped" -ge "$pinned" ]; then
    echo "audit: nothing was checked: the vulnerability data is unreachable from here" >&2
    exit 2
  fi
fi
if [ $rc -ne 0 ] && grep -qiE "ConnectionError|Max retries exceeded|Failed to resolve|Name or service not known|timed out|HTTPSConnectionPool|ServiceError" <<<"$out"; then
  echo "audit: the vulnerability service could not be reached; nothing was checked" >&2
  exit 2
fi
exit $rc

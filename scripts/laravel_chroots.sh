#!/usr/bin/env bash
# Debian chroots with newer Laravels than this machine's, for tests/laravel: trixie
# (php-laravel-framework 10.x, PHP 8.4) and sid (13.x). Each is built with mmdebstrap from Debian's
# own packages, from the mirror this machine's apt already uses, into
#     ${SALES_FORECAST_CHROOTS:-/var/cache/sales-forecast/chroots}/<suite>
# outside the checkout, so later runs on the same machine reuse it. A chroot is rebuilt when its
# package list changes, or when it is older than SALES_FORECAST_CHROOT_MAX_DAYS (default 7: sid
# moves). Both are built at once; on a fresh machine that takes about a minute and a half.
#
# The tests (tests/laravel/runtimes.py) run php, composer and phpunit inside with chroot, in a
# private mount namespace that binds the checkout and the test's temporary directory; the Python
# service stays on the host and is reached over 127.0.0.1. Needs root (chroot, mount).
#
#     scripts/laravel_chroots.sh [suite...]      # default: trixie sid
set -euo pipefail

CACHE=${SALES_FORECAST_CHROOTS:-/var/cache/sales-forecast/chroots}
MAX_DAYS=${SALES_FORECAST_CHROOT_MAX_DAYS:-7}
# What the Laravel tests need inside, as on the host (.ci/run's APT_PACKAGES, less the browser and PostgreSQL).
PACKAGES=php-cli,php-redis,php-predis,php-laravel-framework,php-guzzlehttp-guzzle,php-sqlite3,php-curl,php-mbstring,php-xml,composer,phpunit,php-mockery
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(trixie sid)

if [ "$(id -u)" != 0 ]; then
  echo "laravel_chroots: needs root (mmdebstrap, chroot)" >&2
  exit 1
fi

# The Debian mirror apt is configured with here: the first http(s) URI of a deb822 .sources
# stanza or a one-line "deb" entry that serves the main archive (not -security, -updates).
mirror() {
  if [ -n "${SALES_FORECAST_DEBIAN_MIRROR:-}" ]; then
    echo "$SALES_FORECAST_DEBIAN_MIRROR"
    return
  fi
  local found
  # shellcheck disable=SC2016
  found=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
    function emit() {
      n = split(suites, names, /[[:space:]]+/); main = 0
      for (i = 1; i <= n; i++) if (names[i] != "" && names[i] !~ /-/) main = 1
      if (uri ~ /^https?:/ && types ~ /(^|[[:space:]])deb([[:space:]]|$)/ && main) { print uri; done = 1; exit }
      uri = ""; suites = ""; types = ""
    }
    /^[[:space:]]*$/ { emit(); next }
    /^Types:/ { types = substr($0, 7) }
    /^URIs:/ { uri = $2 }
    /^Suites:/ { suites = substr($0, 8) }
    END { if (!done) emit() }')
  if [ -z "$found" ]; then
    found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" && $0 !~ /-security|-updates|\[/ && $2 ~ /^https?:/ && $2 ~ /debian\/?$/ { print $2; exit }')
  fi
  if [ -z "$found" ]; then
    echo "laravel_chroots: no Debian mirror in /etc/apt/sources.list*; set SALES_FORECAST_DEBIAN_MIRROR" >&2
    return 1
  fi
  echo "$found"
}

if ! command -v mmdebstrap > /dev/null; then
  echo "laravel_chroots: installing mmdebstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap > /dev/null
fi

MIRROR=$(mirror)
mkdir -p "$CACHE"

build() {
  local suite=$1 dir="$CACHE/$1" key
  key=$(printf '%s\n' "$suite" "$PACKAGES" | sha256sum | cut -c1-16)
  # One build of a suite at a time on this machine (other CI runs share the cache).
  exec {lock}> "$CACHE/.$suite.lock"
  flock "$lock"
  # A chroot replaced by an earlier run may still have been in use then: removed a day later.
  find "$CACHE" -maxdepth 1 -name "$suite.old-*" -mtime +0 -exec rm -rf {} +
  if [ -f "$dir/.sales-forecast-key" ] && [ "$(cat "$dir/.sales-forecast-key")" = "$key" ] \
      && [ -z "$(find "$dir/.sales-forecast-key" -mtime +"$MAX_DAYS")" ]; then
    echo "laravel_chroots: $suite: cached ($dir)"
    return 0
  fi
  local started=$SECONDS
  rm -rf "$dir.new"
  # sid's Release file may be past its Valid-Until date on a mirror snapshot: apt must not refuse it.
  if ! mmdebstrap --quiet --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
      --include="$PACKAGES" "$suite" "$dir.new" "$MIRROR" > "$CACHE/$suite.log" 2>&1; then
    echo "laravel_chroots: $suite: mmdebstrap failed:" >&2
    tail -n 30 "$CACHE/$suite.log" >&2
    rm -rf "$dir.new"
    return 1
  fi
  echo "$key" > "$dir.new/.sales-forecast-key"
  if [ -e "$dir" ]; then
    mv "$dir" "$dir.old-$(date +%s)"
  fi
  mv "$dir.new" "$dir"
  echo "laravel_chroots: $suite: built in $((SECONDS - started)) s ($dir)"
}

pids=()
for suite in "${SUITES[@]}"; do
  build "$suite" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
for suite in "${SUITES[@]}"; do
  [ -f "$CACHE/$suite/.sales-forecast-key" ] || continue
  versions=$(chroot "$CACHE/$suite" php -r 'require "Illuminate/autoload.php"; echo "Laravel ", Illuminate\Foundation\Application::VERSION, ", PHP ", PHP_VERSION;' 2>&1 || true)
  echo "laravel_chroots: $suite: $versions"
done
exit $status

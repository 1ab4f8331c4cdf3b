#!/usr/bin/env bash
# Re-vendor the dashboard's charting library into web/static/vendor/.
#
# The dashboard serves every asset itself (no CDN: pages must work offline and leak nothing).
# The chart is plotly.js's "basic" partial bundle (scatter, bar, pie; ~1.2 MB instead of the
# ~4.6 MB full bundle), taken from the npm package `plotly.js-basic-dist-min`, MIT licensed.
#
#   scripts/vendor_assets.sh            # fetch the pinned version, verify it, copy it in
#   PLOTLY_VERSION=4.2.0 PLOTLY_SHA256=... scripts/vendor_assets.sh   # to upgrade
#
# To upgrade: run with the new version and PLOTLY_SHA256=skip, check the page and the browser
# tests (tests/browser), then pin the printed digest here. npm itself checks the tarball against
# the registry's integrity hash; the sha256 below pins the file we actually commit.
set -euo pipefail

PLOTLY_VERSION="${PLOTLY_VERSION:-4.1.1}"
PLOTLY_SHA256="${PLOTLY_SHA256:-99784e3abfb07b142a15e521a439e6d9addceadb3f79553fd24c72774f0649ba}"
PACKAGE="plotly.js-basic-dist-min"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "$PACKAGE@$PLOTLY_VERSION" >/dev/null)
tar -xzf "$work/$PACKAGE-$PLOTLY_VERSION.tgz" -C "$work"

digest="$(sha256sum "$work/package/plotly-basic.min.js" | cut -d' ' -f1)"
if [[ "$PLOTLY_SHA256" != "skip" && "$digest" != "$PLOTLY_SHA256" ]]; then
    echo "plotly-basic.min.js $PLOTLY_VERSION: sha256 $digest, expected $PLOTLY_SHA256" >&2
    exit 1
fi

mkdir -p "$dest"
cp "$work/package/plotly-basic.min.js" "$dest/plotly-basic.min.js"
cp "$work/package/LICENSE" "$dest/plotly-LICENSE.txt"
echo "vendored $PACKAGE@$PLOTLY_VERSION (sha256 $digest) into ${dest#"$root"/}"

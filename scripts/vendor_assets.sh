#!/usr/bin/env bash
# Re-vendor the browser libraries the pages use into web/static/vendor/.
#
# The service serves every asset itself (no CDN: pages must work offline and leak nothing).
# - The dashboard's chart is plotly.js's "basic" partial bundle (scatter, bar, pie; ~1.2 MB
#   instead of the ~4.6 MB full bundle), from the npm package `plotly.js-basic-dist-min`, MIT.
# - /docs is Swagger UI, from the npm package `swagger-ui-dist` (its self-contained bundle and
#   stylesheet), Apache-2.0.
#
#   scripts/vendor_assets.sh            # fetch the pinned versions, verify them, copy them in
#   PLOTLY_VERSION=4.2.0 PLOTLY_SHA256=... scripts/vendor_assets.sh       # to upgrade plotly
#   SWAGGER_UI_VERSION=5.36.0 SWAGGER_UI_SHA256=... scripts/vendor_assets.sh   # ... Swagger UI
#
# To upgrade: run with the new version and *_SHA256=skip, check the pages and the browser
# tests (tests/browser), then pin the printed digests here. npm itself checks each tarball
# against the registry's integrity hash; the sha256 digests below pin the files we commit.
set -euo pipefail

PLOTLY_VERSION="${PLOTLY_VERSION:-4.1.1}"
PLOTLY_SHA256="${PLOTLY_SHA256:-99784e3abfb07b142a15e521a439e6d9addceadb3f79553fd24c72774f0649ba}"
# Two files from swagger-ui-dist: "<bundle sha256>,<css sha256>".
SWAGGER_UI_VERSION="${SWAGGER_UI_VERSION:-5.35.0}"
SWAGGER_UI_SHA256="${SWAGGER_UI_SHA256:-e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2,5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d}"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# unpack PACKAGE VERSION: the package's files under $work/PACKAGE/package/
unpack() {
    mkdir -p "$work/$1"
    (cd "$work/$1" && npm pack --silent "$1@$2" >/dev/null)
    tar -xzf "$work/$1/$1-$2.tgz" -C "$work/$1"
}

# check FILE EXPECTED_SHA256: prints the digest; fails on a mismatch (unless EXPECTED is "skip")
check() {
    local digest
    digest="$(sha256sum "$1" | cut -d' ' -f1)"
    if [[ "$2" != "skip" && "$digest" != "$2" ]]; then
        echo "$(basename "$1"): sha256 $digest, expected $2" >&2
        exit 1
    fi
    echo "$digest"
}

unpack plotly.js-basic-dist-min "$PLOTLY_VERSION"
plotly="$work/plotly.js-basic-dist-min/package"
plotly_digest="$(check "$plotly/plotly-basic.min.js" "$PLOTLY_SHA256")"

unpack swagger-ui-dist "$SWAGGER_UI_VERSION"
swagger="$work/swagger-ui-dist/package"
bundle_digest="$(check "$swagger/swagger-ui-bundle.js" "${SWAGGER_UI_SHA256%%,*}")"
css_digest="$(check "$swagger/swagger-ui.css" "${SWAGGER_UI_SHA256##*,}")"

mkdir -p "$dest"
cp "$plotly/plotly-basic.min.js" "$dest/plotly-basic.min.js"
cp "$plotly/LICENSE" "$dest/plotly-LICENSE.txt"
cp "$swagger/swagger-ui-bundle.js" "$dest/swagger-ui-bundle.js"
cp "$swagger/swagger-ui.css" "$dest/swagger-ui.css"
cat "$swagger/LICENSE" "$swagger/NOTICE" "$swagger/swagger-ui-bundle.js.LICENSE.txt" > "$dest/swagger-ui-LICENSE.txt"
echo "vendored plotly.js-basic-dist-min@$PLOTLY_VERSION (sha256 $plotly_digest) into ${dest#"$root"/}"
echo "vendored swagger-ui-dist@$SWAGGER_UI_VERSION (sha256 $bundle_digest,$css_digest) into ${dest#"$root"/}"

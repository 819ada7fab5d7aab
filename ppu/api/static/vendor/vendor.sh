#!/usr/bin/env bash
# Vendor the dashboard's charting library from the npm registry: the exact version and
# integrity hash in package-lock.json, installed into a scratch folder by `npm ci`, its
# minified bundle and licence copied here, and their SHA-256 written to SHA256SUMS (which a
# test checks). The page is served offline; nothing is fetched from a CDN at run time.
# Run it again after changing the version in package.json (then `npm install` to relock).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$scratch/"
(cd "$scratch" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
pkg="$scratch/node_modules/plotly.js-basic-dist-min"
cp "$pkg/plotly-basic.min.js" "$here/plotly-basic.min.js"
cp "$pkg/LICENSE" "$here/plotly.LICENSE"
(cd "$here" && sha256sum plotly-basic.min.js plotly.LICENSE > SHA256SUMS)
echo "vendored plotly.js-basic-dist-min $(node -p "require('$pkg/package.json').version")"

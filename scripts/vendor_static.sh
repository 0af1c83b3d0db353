#!/usr/bin/env bash
# Re-vendor front-end assets from the npm registry into static/vendor/ (no CDN at run time).
# Versions are pinned here; the result, with each package's licence, is committed.
# Usage: bash scripts/vendor_static.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  "@picocss/pico@2.1.1|css/pico.jade.min.css:pico.min.css|pico"
  "chart.js@4.6.1|dist/chart.umd.min.js:chart.umd.min.js,dist/chart.umd.min.js.map:chart.umd.min.js.map|chartjs"
  "@zxing/library@0.21.3|umd/index.min.js:zxing.min.js|zxing"
  # Time axis of the climate charts in the archive's time zone (after chart.js and luxon).
  "luxon@3.7.2|build/global/luxon.min.js:luxon.min.js|luxon"
  "chartjs-adapter-luxon@1.3.1|dist/chartjs-adapter-luxon.umd.min.js:adapter.umd.min.js|chartjs-adapter-luxon"
  # Accessibility checks of the browser crawl (tests/e2e/test_crawl.py); no page loads it.
  "axe-core@4.11.1|axe.min.js:axe.min.js|axe-core"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
record=static/vendor/VENDORED.md
mkdir -p static/vendor
{
  echo "# Vendored front-end assets"
  echo
  echo "Fetched from the npm registry by \`scripts/vendor_static.sh\`; served from \`/static/vendor/\`."
  echo
  echo "| package | version | licence | files | npm integrity |"
  echo "|---|---|---|---|---|"
} > "$record"

for spec in "${PACKAGES[@]}"; do
  IFS='|' read -r pkg files dir <<< "$spec"
  (cd "$work" && npm pack --silent "$pkg" > /dev/null)
  tarball=$(ls -t "$work"/*.tgz | head -1)
  rm -rf "$work/package" && tar xzf "$tarball" -C "$work"
  mkdir -p "static/vendor/$dir"
  names=()
  IFS=',' read -ra pairs <<< "$files"
  for pair in "${pairs[@]}"; do
    cp "$work/package/${pair%%:*}" "static/vendor/$dir/${pair##*:}"
    names+=("${pair##*:}")
  done
  licence_file=$(ls "$work/package" | grep -i -m1 '^licen[cs]e' || true)
  [ -n "$licence_file" ] && cp "$work/package/$licence_file" "static/vendor/$dir/LICENSE"
  version=$(node -p "require('$work/package/package.json').version")
  licence=$(node -p "require('$work/package/package.json').license")
  integrity=$(npm view "$pkg" dist.integrity)
  echo "| ${pkg%@*} | $version | $licence | ${names[*]} | \`$integrity\` |" >> "$record"
  rm -f "$tarball"
done
echo "vendored into static/vendor (see $record)"

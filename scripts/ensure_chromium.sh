#!/usr/bin/env bash
# Make sure headless Chromium is there for the browser tests (Debian's package; Playwright's own
# browser download does not work on an isolated network). Installs it only when we are root and
# apt is available; otherwise the browser tests are skipped locally (and fail in CI).
set -euo pipefail
for candidate in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    exit 0
  fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get > /dev/null; then
  echo "installing Debian's chromium for the browser tests..." >&2
  apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
else
  echo "chromium not found and cannot install it here: browser tests will be skipped" >&2
  exit 1
fi

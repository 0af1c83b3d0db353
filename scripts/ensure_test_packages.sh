#!/usr/bin/env bash
# Debian packages the tests use: headless Chromium for the browser tests (Playwright's own browser
# download does not work on an isolated network) and a Chinese TrueType font (fonts-wqy-zenhei)
# that PDFs embed, pdftotext (poppler-utils) to read PDFs back, Tesseract with its Chinese data
# (tesseract-ocr, tesseract-ocr-chi-sim) for the OCR of scanned pages, mosquitto_pub as a third-party
# publisher, restic and pg_dump for the backups, nginx and systemd-analyze for the production kit in
# deploy/. Installs what is missing only
# when we are root and apt is available; otherwise the tests that need them are skipped locally
# (and fail in CI).
set -euo pipefail
missing=()
have_chromium=no
for candidate in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    have_chromium=yes
  fi
done
[ "$have_chromium" = yes ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
command -v pdftotext > /dev/null || missing+=(poppler-utils)  # PDF text checks in the tests
command -v mosquitto_pub > /dev/null || missing+=(mosquitto-clients)  # a third-party publisher (sources)
command -v restic > /dev/null || missing+=(restic)  # backups (manage.py backup / restore)
command -v pg_dump > /dev/null || missing+=(postgresql-client)  # PostgreSQL backups
# the nginx front (tests/ops/test_nginx.py; deploy/nginx) and systemd-analyze for deploy/systemd
command -v nginx > /dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v systemd-analyze > /dev/null || missing+=(systemd)
command -v tesseract > /dev/null || missing+=(tesseract-ocr)  # OCR of scanned pages (search)
[ -f /usr/share/tesseract-ocr/5/tessdata/chi_sim.traineddata ] \
  || [ -f /usr/share/tesseract-ocr/4.00/tessdata/chi_sim.traineddata ] \
  || missing+=(tesseract-ocr-chi-sim)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get > /dev/null; then
  echo "installing Debian's ${missing[*]} for the tests..." >&2
  apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
else
  echo "${missing[*]} not found and cannot install here: the tests that need them will be skipped" >&2
  exit 1
fi

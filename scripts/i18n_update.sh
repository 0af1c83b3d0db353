#!/usr/bin/env bash
# Update the translation catalogues safely while several people edit the tree:
#   bash scripts/i18n_update.sh [translations.json]
# Extracts strings (makemessages), fills Chinese from the JSON {msgid: msgstr} table if given,
# compiles, and lists what is still untranslated. Serialised with a lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9> /tmp/lantai-i18n.lock
flock 9
DEBUG=true .venv/bin/python manage.py makemessages -l zh_Hans -l en \
  --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=scripts > /dev/null
.venv/bin/python scripts/po_fill.py locale/en/LC_MESSAGES/django.po 2> /dev/null
.venv/bin/python scripts/po_fill.py locale/zh_Hans/LC_MESSAGES/django.po ${1:+"$1"}
.venv/bin/pybabel compile --domain django --directory locale > /dev/null

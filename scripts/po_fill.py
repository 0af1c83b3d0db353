"""Fill empty msgstr entries of a .po catalogue from a JSON {msgid: msgstr} file.

Developer helper: after `manage.py makemessages -l zh_Hans`, write the new translations into a
JSON file and run `python scripts/po_fill.py locale/zh_Hans/LC_MESSAGES/django.po new.json`.
Existing translations are kept unless --overwrite is given (makemessages' fuzzy guesses are
replaced); untranslated msgids are listed.
"""

import argparse
import json
import sys

from babel.messages.pofile import read_po, write_po


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("po")
    parser.add_argument("translations", nargs="?")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    with open(args.po, "rb") as handle:
        catalog = read_po(handle, abort_invalid=True)
    table = {}
    if args.translations:
        with open(args.translations, encoding="utf-8") as handle:
            table = json.load(handle)
    catalog.fuzzy = False
    missing = []
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        guessed = "fuzzy" in message.flags  # makemessages' guess from a similar msgid
        if key in table and (args.overwrite or guessed or not message.string):
            message.string = table[key]
            message.flags.discard("fuzzy")
            message.previous_id = []
        if not message.string or (isinstance(message.string, tuple) and not message.string[0]):
            missing.append(key)
    with open(args.po, "wb") as handle:
        write_po(handle, catalog, width=100)
    for key in missing:
        print(f"untranslated: {key!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Translation workflow.
#   scripts/i18n.sh extract    scan src/labs and templates into src/labs/translations/messages.pot
#                              (gettext calls, templates, and the messages of labs.errors exceptions)
#   scripts/i18n.sh update     merge the .pot into every <lang>/LC_MESSAGES/messages.po
#   scripts/i18n.sh init LANG  start a catalog for a new language
#   scripts/i18n.sh all        extract + update
# Catalogs carry no source locations and are sorted by message, so two branches that add messages
# rarely touch the same lines; the app compiles them in memory (no .mo files).
#   scripts/i18n.sh check      fail (exit 1) if the code or templates have messages that a catalog
#                              lacks, or a catalog other than en has untranslated or fuzzy entries;
#                              writes nothing (extracts into a temporary .pot)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if [[ -x .venv/bin/pybabel ]]; then pybabel=.venv/bin/pybabel; else pybabel=pybabel; fi
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
dir=src/labs/translations
pot="$dir/messages.pot"

# Templates are read by pybabel (babel.cfg): _(msg), gettext(msg), ngettext(s, p, n),
# pgettext(ctx, msg), npgettext(ctx, s, p, n); keyword variables (_("Hi %(name)s", name=x)) are fine.
keywords=(-k _ -k gettext -k ngettext:1,2 -k pgettext:1c,2 -k npgettext:1c,2,3)

extract() {  # [OUTPUT.pot]
  local out="${1:-$pot}"
  "$pybabel" extract -F babel.cfg "${keywords[@]}" --no-default-keywords \
    --no-location --sort-output --add-comments=Translators: \
    --project=labs --copyright-holder="labs contributors" --version=0.1 \
    -o "$out" .
  extract_python "$out"
}

# Python (src/labs/**.py) is read with the ast module and merged into the .pot, because Babel's
# Python extractor cannot do what the code needs: it takes ctx["lang"] in gettext(ctx["lang"], text)
# for a message, cannot read a dict argument, and takes the literal tail of an implicitly
# concatenated f-string for a whole message. Extracted, counting positional arguments only:
#   _(msg)  N_(msg)  gettext(msg) / gettext(lang, msg)  ngettext([lang,] s, p, n)
#   pgettext([lang,] ctx, msg)  npgettext([lang,] ctx, s, p, n)   (also as i18n.gettext(...) etc.)
#   LabsError, Invalid, Unauthorized, Forbidden, NotFound, Conflict, Gone, RateLimited, UnsupportedMediaType:
#     the message (1st argument or message=) and the string values of the field-errors dict
#     (2nd argument or field_errors=): raise Invalid("Message.", {"field": "Field message."}).
#     labs.web.render.page translates the message at render time. A module-level string
#     constant is followed (WRONG = "..."; raise Unauthorized(WRONG)).
# f-strings and other expressions cannot be looked up in a catalog and are skipped. A comment
# block starting with "# Translators:" right above the call goes to the translators.
extract_python() {  # OUTPUT.pot
  "$python" - "$1" src/labs <<'PY'
import ast
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ERRORS = {
    "LabsError", "Invalid", "Unauthorized", "Forbidden", "NotFound", "Conflict", "Gone", "RateLimited",
    "UnsupportedMediaType",
}
# name -> {positional argument count: (context index or None, message indexes)}
GETTEXT = {
    "_": {1: (None, (0,))},
    "N_": {1: (None, (0,))},
    "gettext": {1: (None, (0,)), 2: (None, (1,))},
    "ngettext": {3: (None, (0, 1)), 4: (None, (1, 2))},
    "pgettext": {2: (0, (1,)), 3: (1, (2,))},
    "npgettext": {4: (0, (1, 2)), 5: (1, (2, 3))},
}
pot, root = Path(sys.argv[1]), Path(sys.argv[2])
with pot.open("rb") as fh:
    catalog = read_po(fh)


def string(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def translator_comments(lines, lineno):
    block = []
    for line in reversed(lines[: lineno - 1]):
        if not line.strip().startswith("#"):
            break
        block.insert(0, line.strip().lstrip("#").strip())
    starts = [i for i, text in enumerate(block) if text.startswith("Translators:")]
    return block[starts[0] :] if starts else []


found = 0
for path in sorted(root.rglob("*.py")):
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, str(path))
    constants = {
        target.id: (stmt.value.value, stmt.lineno)
        for stmt in tree.body
        if isinstance(stmt, ast.Assign) and string(stmt.value) is not None
        for target in stmt.targets
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        entries = []  # (msgid, context, lineno)
        if name in ERRORS:
            keywords = {kw.arg: kw.value for kw in node.keywords}
            message = node.args[0] if node.args else keywords.get("message")
            fields = node.args[1] if len(node.args) > 1 else keywords.get("field_errors")
            values = [message] if message is not None else []
            if isinstance(fields, ast.Dict):
                values += fields.values
            for value in values:
                if (text := string(value)) is not None:
                    entries.append((text, None, value.lineno))
                elif isinstance(value, ast.Name) and value.id in constants:
                    entries.append((*constants[value.id][:1], None, constants[value.id][1]))
        elif name in GETTEXT and len(node.args) in GETTEXT[name]:
            context_at, message_at = GETTEXT[name][len(node.args)]
            texts = [string(node.args[i]) for i in message_at]
            context = string(node.args[context_at]) if context_at is not None else None
            if None not in texts and (context_at is None or context is not None):
                entries.append((texts[0] if len(texts) == 1 else tuple(texts), context, node.args[message_at[0]].lineno))
        for msgid, context, lineno in entries:
            if not (msgid[0] if isinstance(msgid, tuple) else msgid).strip():
                continue
            comments = translator_comments(lines, node.lineno)
            catalog.add(msgid, locations=[(path.as_posix(), lineno)], auto_comments=comments, context=context)
            found += 1

# A fixed date: a header that changes on every run would make every branch's catalog conflict.
catalog.creation_date = catalog.revision_date = datetime(2026, 1, 1, tzinfo=UTC)
with pot.open("wb") as fh:
    write_po(fh, catalog, width=76, sort_output=True, no_location=True)
print(f"extracted {found} messages from {root}/**.py into {pot}", file=sys.stderr)
PY
}

update() {
  "$pybabel" update -i "$pot" -d "$dir" -D messages --previous --ignore-obsolete
  # pybabel update keeps its own order; write each catalog sorted and without locations.
  "$python" - "$dir" <<'PY'
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.pofile import read_po, write_po

for po in sorted(Path(sys.argv[1]).glob("*/LC_MESSAGES/messages.po")):
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=po.parts[-3])
    catalog.creation_date = catalog.revision_date = datetime(2026, 1, 1, tzinfo=UTC)
    with po.open("wb") as fh:
        write_po(fh, catalog, width=76, sort_output=True, no_location=True, include_previous=True)
PY
}

check() {
  local tmp status=0
  tmp="$(mktemp -d)"
  extract "$tmp/messages.pot" >"$tmp/extract.log" 2>&1 || { cat "$tmp/extract.log" >&2; rm -rf "$tmp"; return 1; }
  "$python" - "$tmp/messages.pot" "$dir" <<'PY' || status=$?
import sys
from pathlib import Path

from babel.messages.pofile import read_po

SOURCE_LANGUAGE = "en"  # msgids are English: its catalog stays empty on purpose
with open(sys.argv[1], "rb") as fh:
    wanted = {(m.id, m.context): m for m in read_po(fh) if m.id}
problems = []
for po in sorted(Path(sys.argv[2]).glob("*/LC_MESSAGES/messages.po")):
    lang = po.parts[-3]
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    have = {(m.id, m.context): m for m in catalog if m.id}
    for key, message in wanted.items():
        if key not in have:
            problems.append(f"{po}: missing {key[0]!r}; run scripts/i18n.sh extract and update")
    if lang == SOURCE_LANGUAGE:
        continue
    for message in have.values():
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if message.fuzzy:
            problems.append(f"{po}: fuzzy {message.id!r}")
        elif not all(strings):
            problems.append(f"{po}: untranslated {message.id!r}")
print("\n".join(problems) or f"catalogs up to date: {len(wanted)} messages", file=sys.stderr if problems else sys.stdout)
sys.exit(1 if problems else 0)
PY
  rm -rf "$tmp"
  return "$status"
}

case "${1:-}" in
  extract) extract ;;
  update) update ;;
  init)
    [[ -n "${2:-}" ]] || { echo "usage: $0 init LANG" >&2; exit 2; }
    "$pybabel" init -i "$pot" -d "$dir" -D messages -l "$2"
    ;;
  all) extract; update ;;
  check) check ;;
  *)
    echo "usage: $0 {extract|update|init LANG|all|check}" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Translation workflow.
#   scripts/i18n.sh extract    scan src/labs and templates into src/labs/translations/messages.pot
#   scripts/i18n.sh update     merge the .pot into every <lang>/LC_MESSAGES/messages.po
#   scripts/i18n.sh compile    build the .mo files (the app also rebuilds stale ones on first use)
#   scripts/i18n.sh init LANG  start a catalog for a new language
#   scripts/i18n.sh all        extract + update + compile
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if [[ -x .venv/bin/pybabel ]]; then pybabel=.venv/bin/pybabel; else pybabel=pybabel; fi
dir=src/labs/translations
pot="$dir/messages.pot"

# Python-side helpers take the language first: gettext(lang, msg), ngettext(lang, s, p, n),
# pgettext(lang, ctx, msg). Templates call gettext(msg), ngettext(s, p, n), pgettext(ctx, msg).
# The "Nt" specs pick the right argument by call arity, so both forms are extracted.
keywords=(
  -k _ -k N_
  -k gettext -k gettext:2,2t
  -k ngettext:1,2 -k ngettext:2,3,4t
  -k pgettext:1c,2 -k pgettext:2c,3,3t
  -k npgettext:1c,2,3
)

extract() {
  "$pybabel" extract -F babel.cfg "${keywords[@]}" --no-default-keywords \
    --sort-by-file --add-comments=Translators: \
    --project=labs --copyright-holder="labs contributors" --version=0.1 \
    -o "$pot" .
}

update() {
  "$pybabel" update -i "$pot" -d "$dir" -D messages --previous --ignore-obsolete --init-missing
}

compile() {
  "$pybabel" compile -d "$dir" -D messages --statistics
}

case "${1:-}" in
  extract) extract ;;
  update) update ;;
  compile) compile ;;
  init)
    [[ -n "${2:-}" ]] || { echo "usage: $0 init LANG" >&2; exit 2; }
    "$pybabel" init -i "$pot" -d "$dir" -D messages -l "$2"
    ;;
  all) extract; update; compile ;;
  *)
    echo "usage: $0 {extract|update|compile|init LANG|all}" >&2
    exit 2
    ;;
esac

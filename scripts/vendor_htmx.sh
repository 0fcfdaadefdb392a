#!/usr/bin/env bash
# Vendor a pinned htmx release from the npm registry into static/vendor/htmx-<version>/.
#
# Usage: scripts/vendor_htmx.sh
#
# To update: change HTMX_VERSION, set HTMX_INTEGRITY to the output of
#   npm view htmx.org@<version> dist.integrity
# run this script, then update the <script> paths in templates/base.html and
# static/vendor/README.md, and remove the old static/vendor/htmx-<old>/ directory.
set -euo pipefail

HTMX_VERSION="4.0.1"
HTMX_INTEGRITY="sha512-oF7JgXhDW9UXCy/k1ZYFUQgzu/rm19ORWPSPNL91vPluB2PB9+MV55tyQdH/w7o2EAbTYUG5SDW1R60mdkdqGg=="

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${repo_root}/static/vendor/htmx-${HTMX_VERSION}"

for tool in npm tar openssl base64; do
  command -v "$tool" >/dev/null 2>&1 || { echo "vendor_htmx: '$tool' is required" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "vendor_htmx: fetching htmx.org@${HTMX_VERSION}"
tarball_name="$(cd "$tmp" && npm pack --silent "htmx.org@${HTMX_VERSION}" 2>/dev/null | tail -n 1)"
tarball="${tmp}/${tarball_name}"
[[ -f "$tarball" ]] || { echo "vendor_htmx: npm pack produced no tarball" >&2; exit 1; }

# Verify the tarball against the pinned Subresource-Integrity style hash.
algo="${HTMX_INTEGRITY%%-*}"
expected="${HTMX_INTEGRITY#*-}"
actual="$(openssl dgst "-${algo}" -binary "$tarball" | base64 | tr -d '\n')"
if [[ "$actual" != "$expected" ]]; then
  echo "vendor_htmx: integrity mismatch for ${tarball_name}" >&2
  echo "  expected ${algo}-${expected}" >&2
  echo "  actual   ${algo}-${actual}" >&2
  exit 1
fi
echo "vendor_htmx: integrity ok (${algo})"

tar -xzf "$tarball" -C "$tmp"
pkg="${tmp}/package"

mkdir -p "$dest"
install -m 0644 "${pkg}/dist/htmx.min.js" "${dest}/htmx.min.js"
install -m 0644 "${pkg}/dist/ext/hx-ws.min.js" "${dest}/hx-ws.min.js"
install -m 0644 "${pkg}/dist/ext/hx-upsert.min.js" "${dest}/hx-upsert.min.js"
install -m 0644 "${pkg}/LICENSE" "${dest}/LICENSE"

echo "vendor_htmx: installed into ${dest#"${repo_root}"/}:"
ls -l "$dest"

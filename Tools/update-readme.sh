#!/usr/bin/env bash
# Replaces the model table in README.md (between <!-- models:begin --> and <!-- models:end -->)
# with `berg list --markdown`. A test fails when the two differ.
set -euo pipefail
cd "$(dirname "$0")/.."
berg="${1:-.build/debug/berg}"
table="$(mktemp)"
# Its own BERG_HOME: registries added with `berg registry add` are not part of the README.
home="$(mktemp -d)"
BERG_HOME="$home" "$berg" list --markdown > "$table"
rm -rf "$home"
awk -v table="$table" '
    /<!-- models:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- models:end -->/ { skip = 0 }
    !skip { print }
' README.md > README.md.tmp
mv README.md.tmp README.md
rm -f "$table"
echo "update-readme: model table updated"

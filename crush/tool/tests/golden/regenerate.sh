#!/usr/bin/env bash
# Regenerates the golden outputs with Ceph's own crushtool (Debian package
# ceph-base). Each corpus map is compiled to crushtool's binary form, and the
# case's arguments are run against it; a `--compare NAME` argument is
# replaced by the compiled NAME.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=${STRATA_CRUSH_VECTORS:-$here/../../../../../shared/crush-vectors}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$here/cases.txt" | while read -r id map args; do
  crushtool -c "$corpus/$map.txt" -o "$tmp/$map.bin"
  # shellcheck disable=SC2086
  set -- $args
  out=()
  while [ $# -gt 0 ]; do
    if [ "$1" = --compare ]; then
      crushtool -c "$corpus/$2.txt" -o "$tmp/$2.bin"; out+=(--compare "$tmp/$2.bin"); shift 2
    else out+=("$1"); shift; fi
  done
  set +e
  crushtool -i "$tmp/$map.bin" "${out[@]}" >"$here/$id.stdout" 2>"$here/$id.stderr"
  echo $? >"$here/$id.status"
  set -e
done

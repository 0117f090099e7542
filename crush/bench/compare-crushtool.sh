#!/usr/bin/env bash
# Mappings per second on the 1000-OSD benchmark map, strata-crushtool next to
# Ceph's own crushtool, same arguments, same machine, same run:
#   rule 0, --num-rep 3, x 0..999999 (--test --show-statistics: every mapping
#   is computed and counted; the statistics lines are compared too).
# Needs crushtool (Debian: apt-get install ceph-base). Usage:
#   crush/bench/compare-crushtool.sh [MAP] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
map=${1:-$root/../shared/bench/crush-1000osd.txt}
runs=${2:-5}
target=${CARGO_TARGET_DIR:-$root/target}
command -v crushtool >/dev/null || { echo "crushtool not found: apt-get install ceph-base" >&2; exit 1; }
cargo build --release -q -p strata-crushtool --manifest-path "$root/Cargo.toml"
ours=$target/release/strata-crushtool
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
crushtool -c "$map" -o "$tmp/map.bin"
args=(--test --show-statistics --rule 0 --num-rep 3 --min-x 0 --max-x 999999)
n=1000000
crushtool -i "$tmp/map.bin" "${args[@]}" >"$tmp/ceph.out"
"$ours" -i "$map" "${args[@]}" >"$tmp/ours.out"
cmp -s "$tmp/ceph.out" "$tmp/ours.out" || { echo "outputs differ:"; diff "$tmp/ceph.out" "$tmp/ours.out"; exit 1; }
best() { # best wall time of $runs runs, in seconds
  local b=999999 t
  for _ in $(seq "$runs"); do
    t=$( { /usr/bin/time -f %e "$@" >/dev/null; } 2>&1 )
    b=$(python3 -c "print(min($b, $t))")
  done
  echo "$b"
}
tc=$(best crushtool -i "$tmp/map.bin" "${args[@]}")
ts=$(best "$ours" -i "$map" "${args[@]}")
python3 - "$tc" "$ts" "$n" <<'PY'
import sys
tc, ts, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"crushtool (Ceph)   {tc:6.2f} s  {n/tc/1e6:6.3f} M mappings/s")
print(f"strata-crushtool   {ts:6.2f} s  {n/ts/1e6:6.3f} M mappings/s")
print(f"ratio              {tc/ts:6.2f}x (identical output)")
PY

#!/usr/bin/env bash
# A tour of Strata's CRUSH placement on the example map in deploy/examples/:
# where objects land, how balanced that is, what a device class rule does,
# and how much data a change would move before you make it.
# (Until the cluster exists, this is what `strata` can show you.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
map="$root/deploy/examples/crushmap.txt"
echo "== building strata-crushtool (release)"
cargo build --release -q -p strata-crushtool --manifest-path "$root/Cargo.toml"
tool="${CARGO_TARGET_DIR:-$root/target}/release/strata-crushtool"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { echo; echo "\$ strata-crushtool $*"; "$tool" "$@"; }

echo; echo "== 1. Placement: PGs 0..7 of pool 1, three replicas on three hosts"
run -i "$map" --test --show-mappings --rule 0 --num-rep 3 --pool-id 1 --min-x 0 --max-x 7

echo; echo "== 2. Balance over 10000 PGs: copies follow CRUSH weights (0.87 TiB ssd vs 3.64 TiB hdd)"
echo "   ('expected' is crushtool's even split across in-devices, printed for compatibility)"
run -i "$map" --test --show-utilization --rule 0 --num-rep 3 --min-x 0 --max-x 9999

echo; echo "== 3. Device classes: the 'fast' rule only uses ssd OSDs; the EC rule (k+m=4) only hdd"
run -i "$map" --test --show-mappings --rule 1 --num-rep 2 --min-x 0 --max-x 3
run -i "$map" --test --show-mappings --rule 2 --num-rep 4 --min-x 0 --max-x 3

echo; echo "== 4. osd.4 fails and is marked out: every PG still gets three copies on three hosts"
run -i "$map" --test --show-statistics --rule 0 --num-rep 3 --min-x 0 --max-x 9999 --weight 4 0

echo; echo "== 5. Before adding a host: preview how many PG mappings would change"
"$tool" -i "$map" --add-item 12 3.638 osd.12 --loc host node5 --loc rack rack2 --loc root default -o "$tmp/grown.txt"
echo "(added osd.12 on a new host node5 in rack2, written to a new map)"
run -i "$map" --compare "$tmp/grown.txt" --rule 0 --num-rep 3 --min-x 0 --max-x 9999 || true
echo
echo "Done. The same placements come out of Ceph's crushtool for this map."

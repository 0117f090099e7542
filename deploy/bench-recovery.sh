#!/usr/bin/env bash
# Recovery benchmark on a local cluster (release binaries):
#   1 monitor, 4 OSDs, pool "data" (size 3, 32 PGs), mon_osd_down_out_interval 10 s;
#   fill it with GIB GiB of 4 MiB objects; measure 4 KiB write latency
#   (strados bench, 4 in flight over 4000 objects) idle; kill -9 one OSD; measure the time
#   from the kill to every PG active+clean again (down, out, backfill onto
#   the other three) and the client latency while that runs. Then, if
#   Ceph is installed, the same on Ceph (deploy/bench-recovery-ceph.sh).
#
#   deploy/bench-recovery.sh [--dir DIR] [--gib N] [--set KEY=VALUE]... [--no-ceph | --ceph-ssd-only]
#
# --ceph-ssd-only skips Ceph's stock-settings run (several minutes on
# files Ceph takes for HDDs) and compares with its SSD settings only.
#
# Extra --set options go to the cluster's config (osd_max_backfills=2,
# osd_recovery_sleep=0.01, ...). The cluster is stopped at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${TMPDIR:-/tmp}/strata-bench-recovery"
GIB=2
CEPH=1
CEPH_STOCK=1
SETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR="$2"; shift 2 ;;
        --gib) GIB="$2"; shift 2 ;;
        --set) SETS+=(--set "$2"); shift 2 ;;
        --no-ceph) CEPH=0; shift ;;
        --ceph-ssd-only) CEPH_STOCK=0; shift ;;
        *) echo "bench-recovery.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
case "$GIB" in ''|*[!0-9]*) echo "bench-recovery.sh: --gib must be a whole number" >&2; exit 2 ;; esac
BIN="${STRATA_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
LC=("$ROOT/deploy/local-cluster.sh")
CONF="$DIR/strata.yaml"
S() { "$BIN/strata" --conf "$CONF" "$@"; }
R() { "$BIN/strados" --conf "$CONF" -p data "$@"; }

cleanup() { "${LC[@]}" down --dir "$DIR" >/dev/null 2>&1 || true; }
trap cleanup EXIT
if [ -e "$DIR" ]; then "${LC[@]}" down --dir "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"; fi

"${LC[@]}" up --dir "$DIR" --mons 1 --osds 4 \
    --set mon_osd_down_out_interval=10 ${SETS[@]+"${SETS[@]}"} >/dev/null
echo "cluster up in $DIR"

# Seconds until every PG is active+clean (fails after $1 seconds).
wait_clean() {
    local limit="$1" start=$SECONDS
    while [ $((SECONDS - start)) -lt "$limit" ]; do
        if S status --format json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)["pgmap"]
by = s["pgs_by_state"]
sys.exit(0 if s["num_pgs"] > 0 and len(by) == 1 and by[0]["state_name"] == "active+clean" else 1)'; then
            return 0
        fi
        sleep 0.2
    done
    echo "PGs not active+clean after ${limit}s:" >&2
    S status >&2 || true
    return 1
}

latency() { # $1: bench output file -> "p50 ms / p99 ms, N ops/s"
    python3 - "$1" <<'EOF'
import sys
v = {}
for line in open(sys.argv[1]):
    if ":" in line:
        k, _, x = line.partition(":")
        v[k.strip()] = x.strip()
print(f"p50 {float(v['Latency p50(s)'])*1e3:.2f} ms, p99 {float(v['Latency p99(s)'])*1e3:.2f} ms, "
      f"{v['Average IOPS']} writes/s")
EOF
}

# shellcheck source=deploy/bench-common.sh
. "$ROOT/deploy/bench-common.sh"
osd_dump() { S osd dump --format json; }

wait_clean 120
n=$((GIB * 256))
head -c $((4 << 20)) /dev/urandom >"$DIR/obj4m"
echo "writing $n objects of 4 MiB ($GIB GiB, 3 copies)..."
t0=$SECONDS
seq 0 $((n - 1)) | xargs -P 8 -I{} "$BIN/strados" --conf "$CONF" -p data put "obj-{}" "$DIR/obj4m"
echo "written in $((SECONDS - t0)) s"
wait_clean 300

R bench 15 write -b 4K -t 4 --objects 4000 >"$DIR/bench-idle.txt"
echo "client 4 KiB writes, idle:            $(latency "$DIR/bench-idle.txt")"

victim=3
# The latency window is the recovery: from the kill to active+clean.
"$BIN/strados" --conf "$CONF" -p data bench 3600 write -b 4K -t 4 --objects 4000 >"$DIR/bench-recovery.txt" &
bench=$!
sleep 2
kill_ns=$(date +%s%N)
"${LC[@]}" stop "osd.$victim" --dir "$DIR" >/dev/null
echo "killed osd.$victim (kill -9)"
wait_down osd_dump "$victim" 120
down_ns=$(date +%s%N)
wait_out osd_dump "$victim" 120
out_ns=$(date +%s%N)
wait_clean 1800
clean_ns=$(date +%s%N)
kill -TERM "$bench"
wait "$bench" || true
secs=$(python3 -c "print(f'{($clean_ns - $kill_ns) / 1e9:.1f}')")
echo "kill -9 to all PGs active+clean:      $secs s (includes detection and the 10 s down->out interval)"
phases "$kill_ns" "$down_ns" "$out_ns" "$clean_ns"
echo "client 4 KiB writes during recovery:  $(latency "$DIR/bench-recovery.txt")"
S status | sed -n '/data:/,$p'
cleanup
trap - EXIT
if [ "$CEPH" = 1 ] && command -v ceph-osd >/dev/null; then
    if [ "$CEPH_STOCK" = 1 ]; then
        echo
        echo "== the same on Ceph, stock settings =="
        "$ROOT/deploy/bench-recovery-ceph.sh" --gib "$GIB"
    fi
    echo
    echo "== the same on Ceph, SSD settings =="
    "$ROOT/deploy/bench-recovery-ceph.sh" --gib "$GIB" --ssd
fi

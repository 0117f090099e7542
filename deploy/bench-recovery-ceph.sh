#!/usr/bin/env bash
# The Ceph side of deploy/bench-recovery.sh: the same experiment on Ceph
# (the packaged ceph-mon, ceph-mgr, ceph-osd; 16.2 on Debian 12), on this
# machine: 1 monitor, 1 manager, 4 BlueStore OSDs on sparse files, cephx
# on, pool "data" (size 3, min_size 2, 32 PGs, autoscaler off),
# mon_osd_down_out_interval 10 s; GIB GiB of 4 MiB objects written with
# `rados put`; 4 KiB write latency at 4 in flight (librados from Python,
# rados bench has no percentiles) idle and from the kill to active+clean;
# kill -9 one OSD and time it to every PG active+clean.
#
#   deploy/bench-recovery-ceph.sh [--dir DIR] [--gib N] [--ssd] [--set KEY=VALUE]...
#
# --set adds a line to the [global] section of ceph.conf (for instance
# osd_max_backfills=4); --ssd gives OSDs on files (which Ceph takes for
# rotational disks) Ceph's SSD settings. Everything is stopped at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${TMPDIR:-/tmp}/strata-bench-recovery-ceph"
GIB=2
SETS=()
# Ceph's SSD settings on OSDs it takes for rotational (files here): its
# *_ssd defaults in place of the *_hdd ones.
SSD=(bluestore_debug_enforce_settings=ssd osd_recovery_sleep_hdd=0 osd_recovery_max_active_hdd=10
    osd_op_num_shards_hdd=8 osd_op_num_threads_per_shard_hdd=2)
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR="$2"; shift 2 ;;
        --gib) GIB="$2"; shift 2 ;;
        --set) SETS+=("$2"); shift 2 ;;
        --ssd) SETS+=("${SSD[@]}"); shift ;;
        *) echo "bench-recovery-ceph.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
case "$GIB" in ''|*[!0-9]*) echo "bench-recovery-ceph.sh: --gib must be a whole number" >&2; exit 2 ;; esac
for b in ceph-mon ceph-mgr ceph-osd ceph monmaptool ceph-authtool rados; do
    command -v "$b" >/dev/null || {
        echo "bench-recovery-ceph.sh: $b not found (apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr ceph-common)" >&2
        exit 2
    }
done
PY=/usr/bin/python3
"$PY" -c 'import rados' 2>/dev/null || {
    echo "bench-recovery-ceph.sh: $PY cannot import rados (python3-rados comes with ceph-common)" >&2
    exit 2
}

CONF="$DIR/ceph.conf"
C() { ceph -c "$CONF" "$@"; }

stop_all() {
    local f
    for f in "$DIR"/run/*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
}
trap stop_all EXIT
if [ -d "$DIR" ]; then stop_all; rm -rf "$DIR"; fi
mkdir -p "$DIR/run"

FSID=$(cat /proc/sys/kernel/random/uuid)
PORT=${CEPH_BENCH_PORT:-40100}
cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$PORT,v1:127.0.0.1:$((PORT + 1))]
public addr = 127.0.0.1
ms bind ipv6 = false
keyring = $DIR/keyring
log file = $DIR/\$name.log
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
mon data = $DIR/\$name
mgr data = $DIR/\$name
osd data = $DIR/\$name
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 10737418240
osd pool default size = 3
osd pool default min size = 2
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon osd down out interval = 10
mon allow pool delete = true
mon data avail warn = 1
EOF
for s in ${SETS[@]+"${SETS[@]}"}; do
    echo "${s%%=*} = ${s#*=}" >>"$CONF"
done
cat >>"$CONF" <<EOF
[mon]
admin socket = $DIR/run/\$name.asok
[osd]
keyring = $DIR/\$name/keyring
admin socket = $DIR/run/\$name.asok
[mgr]
keyring = $DIR/\$name/keyring
admin socket = $DIR/run/\$name.asok
[client]
admin socket =
EOF

ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$PORT,v1:127.0.0.1:$((PORT + 1))]" \
    "$DIR/monmap" >/dev/null
mkdir -p "$DIR/mon.a"
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
ceph-mon -c "$CONF" -i a 2>>"$DIR/daemons.err"
mkdir -p "$DIR/mgr.x"
C auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$DIR/mgr.x/keyring" 2>/dev/null
ceph-mgr -c "$CONF" -i x 2>>"$DIR/daemons.err"
for _ in 1 2 3 4; do
    uuid=$(cat /proc/sys/kernel/random/uuid)
    key=$(ceph-authtool --gen-print-key)
    printf '{"cephx_secret": "%s"}' "$key" >"$DIR/osd-secret.json"
    id=$(C osd new "$uuid" -i "$DIR/osd-secret.json" 2>/dev/null)
    mkdir -p "$DIR/osd.$id"
    ceph-authtool --create-keyring "$DIR/osd.$id/keyring" --name "osd.$id" --add-key "$key" >/dev/null
    ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" 2>/dev/null
    ceph-osd -c "$CONF" -i "$id" 2>>"$DIR/daemons.err"
done
rm -f "$DIR/osd-secret.json"
C osd pool create data 32 32 replicated >/dev/null 2>&1
C osd pool application enable data rados >/dev/null 2>&1
echo "ceph $(ceph-osd --version | awk '{print $3}') cluster up in $DIR, settings: ${SETS[*]:-stock} ($(C osd metadata 0 -f json 2>/dev/null | "$PY" -c 'import json,sys; m=json.load(sys.stdin); print("rotational" if m.get("bluestore_bdev_rotational")=="1" else "non-rotational")') OSDs)"

# Seconds until every PG is active+clean (fails after $1 seconds).
wait_clean() {
    local limit="$1" start=$SECONDS
    while [ $((SECONDS - start)) -lt "$limit" ]; do
        if C pg stat -f json 2>/dev/null | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
s = s.get("pg_summary", s)
by = s.get("num_pg_by_state", [])
n = s.get("num_pgs", 0)
sys.exit(0 if n > 0 and len(by) == 1 and by[0]["name"] == "active+clean" else 1)'; then
            return 0
        fi
        sleep 0.2
    done
    echo "PGs not active+clean after ${limit}s:" >&2
    C -s >&2 || true
    return 1
}

# 4 KiB writes, 4 threads, for $1 seconds or until SIGTERM: prints p50/p99
# and writes/s.
latency() {
    exec "$PY" - "$CONF" "$1" <<'EOF'
import signal, sys, threading, time, rados
conf, secs = sys.argv[1], float(sys.argv[2])
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
cluster = rados.Rados(conffile=conf)
cluster.connect()
io = cluster.open_ioctx("data")
lat, lock = [], threading.Lock()
payload = b"\x5a" * 4096
start = time.monotonic()
end = start + secs
def run(t):
    mine, i = [], 0
    while time.monotonic() < end and not stop.is_set():
        t0 = time.monotonic()
        io.write_full(f"lat-{t}-{i % 1000}", payload)
        mine.append(time.monotonic() - t0)
        i += 1
    with lock:
        lat.extend(mine)
ts = [threading.Thread(target=run, args=(t,)) for t in range(4)]
for t in ts: t.start()
while any(t.is_alive() for t in ts):
    time.sleep(0.1)
elapsed = time.monotonic() - start
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3
print(f"p50 {p(0.50):.2f} ms, p99 {p(0.99):.2f} ms, {len(lat) / elapsed:.0f} writes/s")
io.close(); cluster.shutdown()
EOF
}

# shellcheck source=deploy/bench-common.sh
. "$ROOT/deploy/bench-common.sh"
osd_dump() { C osd dump -f json; }

wait_clean 120
n=$((GIB * 256))
head -c $((4 << 20)) /dev/urandom >"$DIR/obj4m"
echo "writing $n objects of 4 MiB ($GIB GiB, 3 copies)..."
t0=$SECONDS
seq 0 $((n - 1)) | xargs -P 8 -I{} rados -c "$CONF" -p data put "obj-{}" "$DIR/obj4m"
echo "written in $((SECONDS - t0)) s"
wait_clean 300

echo "client 4 KiB writes, idle:            $(latency 15)"

victim=3
# The latency window is the recovery: from the kill to active+clean.
(latency 3600 >"$DIR/latency-recovery.txt") &
bench=$!
sleep 2
kill_ns=$(date +%s%N)
kill -9 "$(cat "$DIR/run/osd.$victim.pid")"
echo "killed osd.$victim (kill -9)"
wait_down osd_dump "$victim" 120
down_ns=$(date +%s%N)
wait_out osd_dump "$victim" 120
out_ns=$(date +%s%N)
wait_clean 1800
clean_ns=$(date +%s%N)
kill -TERM "$bench"
wait "$bench" || true
secs=$("$PY" -c "print(f'{($clean_ns - $kill_ns) / 1e9:.1f}')")
echo "kill -9 to all PGs active+clean:      $secs s (includes detection and the 10 s down->out interval)"
phases "$kill_ns" "$down_ns" "$out_ns" "$clean_ns"
echo "client 4 KiB writes during recovery:  $(cat "$DIR/latency-recovery.txt")"
C -s | sed -n '/data:/,$p'

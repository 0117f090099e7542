#!/usr/bin/env bash
# A whole Strata cluster on this machine, on loopback: monitors, OSDs, the
# admin keyring and a config, all in one directory.
#
#   deploy/local-cluster.sh up [--dir DIR] [--mons N] [--osds M] [--ip 127.0.0.1] [--set KEY=VALUE]...
#   deploy/local-cluster.sh status   [--dir DIR]
#   deploy/local-cluster.sh stop DAEMON  [--dir DIR]   # kill -9, e.g. mon.a, osd.2
#   deploy/local-cluster.sh start DAEMON [--dir DIR]   # restart it on its data
#   deploy/local-cluster.sh add-osd  [--dir DIR]       # one more OSD; prints its id
#   deploy/local-cluster.sh down     [--dir DIR]       # stop everything it started
#
# Binaries come from target/release (or $CARGO_TARGET_DIR/release, or
# $STRATA_BIN) and are built if missing. Everything listens on one loopback
# address (127.0.0.1 unless --ip names another 127.x.y.z).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${TMPDIR:-/tmp}/strata-local"
MONS=3
OSDS=3
IP=127.0.0.1
CMD="${1:-help}"
shift || true
DAEMON=""
SETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR="$2"; shift 2 ;;
        --mons) MONS="$2"; shift 2 ;;
        --osds) OSDS="$2"; shift 2 ;;
        --ip) IP="$2"; shift 2 ;;
        --set) SETS+=(--set "$2"); shift 2 ;;
        mon.*|osd.*) DAEMON="$1"; shift ;;
        *) echo "local-cluster.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
case "$MONS" in 1|3|5) ;; *) echo "local-cluster.sh: --mons must be 1, 3 or 5" >&2; exit 2 ;; esac
case "$OSDS" in ''|*[!0-9]*) echo "local-cluster.sh: --osds must be a number" >&2; exit 2 ;; esac
case "$IP" in 127.*) ;; *) echo "local-cluster.sh: --ip must be a loopback address (127.x.y.z)" >&2; exit 2 ;; esac

BIN="${STRATA_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
CONF="$DIR/strata.yaml"
MON_NAMES=(a b c d e)

need_binaries() {
    if [ ! -x "$BIN/strata-mon" ] || [ ! -x "$BIN/strata-osd" ] || [ ! -x "$BIN/strata" ] || [ ! -x "$BIN/strados" ]; then
        echo "building release binaries (the first build compiles RocksDB: 10-20 minutes)..."
        (cd "$ROOT" && cargo build --release -p strata-mon -p strata-osd -p strata-client)
    fi
}

strata() { "$BIN/strata" --conf "$CONF" "$@"; }

pidfile() { echo "$DIR/run/$1.pid"; }

# Whether process $1 has exited (a zombie counts: it only waits to be reaped).
gone() {
    local state
    state="$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)"
    [ -z "$state" ] || [ "$state" = Z ]
}

is_running() {
    local p
    p="$(pidfile "$1")"
    [ -f "$p" ] && ! gone "$(cat "$p")"
}

start_daemon() {
    local name="$1"
    mkdir -p "$DIR/run" "$DIR/log"
    if is_running "$name"; then
        echo "$name is already running (pid $(cat "$(pidfile "$name")"))"
        return
    fi
    case "$name" in
        mon.*) nohup "$BIN/strata-mon" --id "${name#mon.}" --conf "$CONF" >>"$DIR/log/$name.log" 2>&1 & ;;
        osd.*) nohup "$BIN/strata-osd" --data "$DIR/osd/${name#osd.}" --conf "$CONF" >>"$DIR/log/$name.log" 2>&1 & ;;
        *) echo "unknown daemon '$name' (mon.NAME or osd.N)" >&2; exit 2 ;;
    esac
    echo $! >"$(pidfile "$name")"
    echo "started $name (pid $!)"
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for() {
    local secs="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "timed out after ${secs}s waiting for $what; logs are in $DIR/log" >&2
            exit 1
        fi
        sleep 0.5
    done
}

quorum_complete() {
    local out
    out="$(strata quorum_status --format json --connect-timeout 3)" || return 1
    local n
    n="$(printf '%s\n' "$out" | sed -n '/"quorum_names"/,/]/p' | grep -c '"[a-e]"')"
    [ "$n" -eq "$MONS" ]
}

osds_up() {
    local out
    out="$(strata status --format json --connect-timeout 3)" || return 1
    printf '%s\n' "$out" | grep -q "\"num_up_osds\": $1\b"
}

pgs_active() {
    local out
    out="$(strata pg stat --connect-timeout 3)" || return 1
    case "$out" in *unknown*|*peering*|*stale*) return 1 ;; esac
    printf '%s\n' "$out" | grep -q active
}

daemons() {
    ls "$DIR/run" 2>/dev/null | sed 's/\.pid$//'
}

case "$CMD" in
up)
    if [ -e "$CONF" ]; then
        echo "$CONF exists: a cluster was made there. Use 'start', 'status', or 'down' and remove $DIR." >&2
        exit 1
    fi
    need_binaries
    mkdir -p "$DIR"
    args=()
    for i in $(seq 0 $((MONS - 1))); do
        args+=(--mon "${MON_NAMES[$i]}=$IP:$((3300 + i))")
    done
    "$BIN/strata-mon" bootstrap --conf "$CONF" "${args[@]}" \
        --set "mon_data=mon/{id}" --set "osd_data=osd/{id}" \
        --set "osd_crush_chooseleaf_type=0" --set "public_addr=$IP:0" ${SETS[@]+"${SETS[@]}"}
    {
        echo "daemons:"
        for i in $(seq 0 $((MONS - 1))); do
            echo "  mon.${MON_NAMES[$i]}: {metrics_addr: \"$IP:$((9300 + i))\"}"
        done
        for i in $(seq 0 $((OSDS - 1))); do
            echo "  osd.$i: {metrics_addr: \"$IP:$((9400 + i))\"}"
        done
    } >>"$CONF"
    for i in $(seq 0 $((MONS - 1))); do
        "$BIN/strata-mon" --mkfs --id "${MON_NAMES[$i]}" --conf "$CONF" >/dev/null
        start_daemon "mon.${MON_NAMES[$i]}"
    done
    wait_for 60 "the monitor quorum" quorum_complete
    echo "quorum formed"
    for i in $(seq 0 $((OSDS - 1))); do
        "$BIN/strata-osd" --mkfs --data "$DIR/osd/$i" --conf "$CONF"
        start_daemon "osd.$i"
    done
    wait_for 60 "$OSDS OSDs up" osds_up "$OSDS"
    if [ "$OSDS" -gt 0 ]; then
        size=$(( OSDS < 3 ? OSDS : 3 ))
        strata osd pool create data 32
        strata osd pool set data size "$size" 2>/dev/null
        echo "hello from strata, $(date)" | "$BIN/strados" --conf "$CONF" -p data put hello -
        echo "strados -p data get hello:"
        "$BIN/strados" --conf "$CONF" -p data get hello -
        "$BIN/strados" --conf "$CONF" -p data stat hello
        wait_for 60 "the PGs' first reports" pgs_active
    fi
    strata status
    cat <<EOF

Strata is running in $DIR (config $CONF, admin keyring beside it).
  export STRATA_CONF=$CONF
  $BIN/strata status
  $BIN/strata osd tree
  $BIN/strados -p data put NAME FILE ; $BIN/strados -p data get NAME -
  $BIN/strados -p data bench 10 write -b 4K -t 16
  $0 stop osd.1      # kill -9 one daemon
  $0 start osd.1     # bring it back on its data
  $0 down            # stop everything
Metrics: http://$IP:9300/metrics (mons 9300+, OSDs 9400+). Logs: $DIR/log.
EOF
    ;;
status)
    for d in $(daemons); do
        if is_running "$d"; then echo "$d: running (pid $(cat "$(pidfile "$d")"))"; else echo "$d: stopped"; fi
    done
    strata status --connect-timeout 5 || true
    ;;
stop)
    [ -n "$DAEMON" ] || { echo "stop needs a daemon: mon.NAME or osd.N" >&2; exit 2; }
    if is_running "$DAEMON"; then
        pid="$(cat "$(pidfile "$DAEMON")")"
        kill -9 "$pid"
        # Until it has exited: a kill -9 is noticed by its peers within a
        # second, sooner than a large process finishes exiting.
        deadline=$((SECONDS + 30))
        while ! gone "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
        echo "killed $DAEMON (kill -9)"
    else
        echo "$DAEMON is not running"
    fi
    ;;
start)
    [ -n "$DAEMON" ] || { echo "start needs a daemon: mon.NAME or osd.N" >&2; exit 2; }
    need_binaries
    [ -e "$CONF" ] || { echo "no cluster in $DIR (run up first)" >&2; exit 1; }
    start_daemon "$DAEMON"
    ;;
down)
    for d in $(daemons); do
        if is_running "$d"; then kill "$(cat "$(pidfile "$d")")" 2>/dev/null || true; fi
    done
    deadline=$((SECONDS + 15))
    for d in $(daemons); do
        while is_running "$d" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
        if is_running "$d"; then kill -9 "$(cat "$(pidfile "$d")")" 2>/dev/null || true; fi
        rm -f "$(pidfile "$d")"
        echo "stopped $d"
    done
    echo "the cluster's data stays in $DIR; remove it to start afresh"
    ;;
add-osd)
    need_binaries
    [ -e "$CONF" ] || { echo "no cluster in $DIR (run up first)" >&2; exit 1; }
    conf_ip="$(sed -n 's/^public_addr: *"\{0,1\}\([0-9.]*\):.*/\1/p' "$CONF")"
    IP="${conf_ip:-$IP}"
    # The monitors pick the id: make the disk aside, then name it by id.
    rm -rf "$DIR/osd/.new"
    out="$("$BIN/strata-osd" --mkfs --data "$DIR/osd/.new" --conf "$CONF")"
    id="$(printf '%s\n' "$out" | grep -o 'osd\.[0-9]*' | head -1 | cut -d. -f2)"
    [ -n "$id" ] || { echo "strata-osd --mkfs did not print an id: $out" >&2; exit 1; }
    if [ -e "$DIR/osd/$id" ]; then
        echo "$DIR/osd/$id exists already; the new disk stays in $DIR/osd/.new" >&2
        exit 1
    fi
    mv "$DIR/osd/.new" "$DIR/osd/$id"
    echo "  osd.$id: {metrics_addr: \"$IP:$((9400 + id))\"}" >>"$CONF"
    before="$(strata status --format json --connect-timeout 3 | grep -o '"num_up_osds": [0-9]*' | grep -o '[0-9]*$')"
    start_daemon "osd.$id"
    wait_for 60 "osd.$id up" osds_up "$((before + 1))"
    echo "osd.$id is up; data moves to it now (watch: $BIN/strata --conf $CONF status)"
    echo "$id"
    ;;
*)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    [ "$CMD" = help ] || exit 2
    ;;
esac

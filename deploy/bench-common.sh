# Shared by deploy/bench-recovery.sh and deploy/bench-recovery-ceph.sh
# (sourced): waits that read Ceph-shaped JSON, which both CLIs print.

# wait_osd OSD_DUMP_FN ID FIELD WORD SECONDS: until `OSD_DUMP_FN` (prints
# `osd dump` as JSON) shows osd.ID with FIELD ("up" or "in") false; fails
# after SECONDS, saying the OSD is not WORD ("down", "out").
wait_osd() {
    local dump="$1" id="$2" field="$3" word="$4" limit="$5" start=$SECONDS
    while [ $((SECONDS - start)) -lt "$limit" ]; do
        if "$dump" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)
sys.exit(0 if any(o["osd"] == int(sys.argv[1]) and not o[sys.argv[2]] for o in m["osds"]) else 1)' "$id" "$field"; then
            return 0
        fi
        sleep 0.2
    done
    echo "osd.$id not marked $word after $limit s" >&2
    return 1
}

# wait_down / wait_out OSD_DUMP_FN ID SECONDS
wait_down() { wait_osd "$1" "$2" up down "$3"; }
wait_out() { wait_osd "$1" "$2" in out "$3"; }

# phases KILL_NS DOWN_NS OUT_NS CLEAN_NS: one line with the seconds of
# each phase of a recovery.
phases() {
    /usr/bin/python3 -c '
import sys
k, d, o, c = (int(x) for x in sys.argv[1:5])
print(f"  kill -> down {(d - k) / 1e9:.1f} s, down -> out {(o - d) / 1e9:.1f} s, out -> active+clean {(c - o) / 1e9:.1f} s")' "$@"
}

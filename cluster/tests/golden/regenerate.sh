#!/usr/bin/env bash
# Ground truth for placement, from Ceph's own osdmaptool (Debian ceph-base):
# a 12-OSD map whose CRUSH map is deploy/examples/crushmap.txt, with Ceph's
# default pool (id 1, size 3, pg_num 768, hashpspool). Writes every PG's raw,
# up and acting sets with all OSDs up and in, then with osd.7 out, and the
# PGs and OSDs of some object names.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
osdmaptool --createsimple 12 "$tmp/map" --with-default-pool >/dev/null 2>&1
crushtool -c "$here/../../../deploy/examples/crushmap.txt" -o "$tmp/crush"
osdmaptool "$tmp/map" --import-crush "$tmp/crush" >/dev/null 2>&1
osdmaptool "$tmp/map" --print 2>/dev/null | grep '^pool 1 ' > "$here/pool.txt"
osdmaptool "$tmp/map" --mark-up-in --test-map-pgs-dump-all --pool 1 2>/dev/null | grep '^1\.' > "$here/pgs-all-in.txt"
osdmaptool "$tmp/map" --mark-up-in --mark-out 7 --test-map-pgs-dump-all --pool 1 2>/dev/null | grep '^1\.' > "$here/pgs-osd7-out.txt"
: > "$here/objects.txt"
for o in foo bar object-1 rbd_data.1234 "with space" x y z 0 benchmark_data_host_1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; do
  osdmaptool "$tmp/map" --mark-up-in --test-map-object "$o" --pool 1 2>/dev/null | grep "^ object" >> "$here/objects.txt"
done

#!/usr/bin/env bash
# bench/dbpull.sh — a clean CI runner getting its vulnerability database
# from a Vigil server's registry: `vigil db pull` into an empty cache (the
# full artifact), then, after one feed changed on the server, again (the
# delta); bytes read from the registry and wall time of each. Beside it,
# what the runner would do without the server: import (here: have) every
# feed file and build the database itself.
#
# Usage: bench/dbpull.sh       (writes bench/out/dbpull.md)
#
# The server is a real `vigil serve` on a loopback port with the shared
# feeds imported (../shared/testdata/vulndb: OSV Go, PyPI, crates.io,
# AlmaLinux, npm, Maven, Ubuntu, Alpine secdb, Debian DSA/DLA, Amazon
# Linux, NVD, EPSS, KEV). The one-feed change is the OSV Go all.zip with
# one record left out, imported on the server as `vigil db import` would
# import a new copy. The artifact is also copied with crane into a plain
# registry (`crane registry serve`) and pulled from there, as a site's
# mirror would serve it. Needs crane (in $(go env GOPATH)/bin), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
TESTDATA=${VIGIL_TESTDATA:-$root/../shared/testdata}
out=$root/bench/out
mkdir -p "$out"
GO=${GO:-go}
export PATH=$PATH:$("$GO" env GOPATH)/bin
command -v crane >/dev/null || { echo "bench: needs crane" >&2; exit 1; }

"$GO" build -o "$out/vigil" ./cmd/vigil
vigil=$out/vigil
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b-a)/1e9}'; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
mibs() { awk -v n="$1" 'BEGIN {printf "%.2f", n/1048576}'; }

# The server, with every shared feed.
"$vigil" db import --db-dir "$work/server-db" "$TESTDATA/vulndb" >/dev/null 2>&1
feeds_bytes=$(du -sb "$work/server-db/feeds" | cut -f1)
p=$(port)
"$vigil" serve --data "$work/server" --db-dir "$work/server-db" --addr "127.0.0.1:$p" --workers 1 \
	--db-check-interval 1s 2>"$work/server.log" &
pids+=($!)
published() { grep -c 'vulnerability database published' "$work/server.log" || true; }
wait_published() { # count
	for _ in $(seq 600); do
		[ "$(published)" -ge "$1" ] && return 0
		sleep 0.2
	done
	echo "bench: the server did not publish database $1" >&2
	cat "$work/server.log" >&2
	exit 1
}
wait_published 1
export VIGIL_SERVER=http://127.0.0.1:$p VIGIL_TOKEN
VIGIL_TOKEN=$(cat "$work/server/initial-admin-token")

# The clean runner: no cache. Building it itself instead.
t0=$(now)
"$vigil" db import --db-dir "$work/runner-build" "$TESTDATA/vulndb" >/dev/null 2>&1
t1=$(now)
build_s=$(secs "$t0" "$t1")

t0=$(now)
"$vigil" db pull --db-dir "$work/runner" --json >"$work/full.json"
t1=$(now)
full_s=$(secs "$t0" "$t1")
full_bytes=$(field bytes <"$work/full.json")
parts=$(field partitions <"$work/full.json")
v1=$(field version <"$work/full.json")

# One feed changes on the server.
python3 - "$TESTDATA/vulndb/osv/Go/all.zip" "$work/changed/osv/Go/all.zip" <<'EOF'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(dst), exist_ok=True)
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
    names = zi.namelist()
    drop = next(n for n in names if n.startswith("GO-2022-"))
    for n in names:
        if n != drop:
            zo.writestr(zi.getinfo(n), zi.read(n))
EOF
"$vigil" db import --db-dir "$work/server-db" "$work/changed/osv/Go/all.zip" >/dev/null 2>&1
wait_published 2

t0=$(now)
"$vigil" db pull --db-dir "$work/runner" --json >"$work/delta.json"
t1=$(now)
delta_s=$(secs "$t0" "$t1")
delta_bytes=$(field bytes <"$work/delta.json")
fetched=$(field fetched <"$work/delta.json")
v2=$(field version <"$work/delta.json")
[ "$(field delta <"$work/delta.json")" = True ] || { echo "bench: the second pull was not a delta" >&2; cat "$work/delta.json" >&2; exit 1; }

# A mirror: a plain registry holding a crane copy.
m=$(port)
crane registry serve --address "127.0.0.1:$m" 2>"$work/mirror.log" &
pids+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$m/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
export DOCKER_CONFIG=$work/docker
crane auth login "127.0.0.1:$p" -u vigil -p "$VIGIL_TOKEN" >/dev/null 2>&1
crane copy --insecure "127.0.0.1:$p/vigil/db:latest" "127.0.0.1:$m/security/vigil-db:latest" >/dev/null 2>&1
t0=$(now)
"$vigil" db pull --insecure "127.0.0.1:$m/security/vigil-db:latest" --db-dir "$work/mirror-runner" --json >"$work/mirror.json"
t1=$(now)
mirror_s=$(secs "$t0" "$t1")
mirror_bytes=$(field bytes <"$work/mirror.json")
[ "$(field version <"$work/mirror.json")" = "$v2" ] || { echo "bench: the mirror served another version" >&2; exit 1; }

commit=$(git rev-parse --short HEAD)
{
echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) at commit $commit on $(nproc) CPUs, one run each (bench/dbpull.sh); the shared feeds ($(mibs "$feeds_bytes") MiB of feed files), $parts partitions."
echo
echo "| runner gets its database by | bytes read | wall s |"
echo "|---|---|---|"
echo "| building it from the feed files (\`vigil db import\`, files already on disk) | $(mibs "$feeds_bytes") MiB of feeds (to download first) | $build_s |"
echo "| \`vigil db pull\`, empty cache (full, version $v1) | $(mibs "$full_bytes") MiB ($full_bytes B) | $full_s |"
echo "| \`vigil db pull\` after one feed (OSV Go) changed (delta to $v2: $fetched partition) | $(mibs "$delta_bytes") MiB ($delta_bytes B) | $delta_s |"
echo "| \`vigil db pull\` from a crane copy in a plain registry, empty cache | $(mibs "$mirror_bytes") MiB ($mirror_bytes B) | $mirror_s |"
} | tee "$out/dbpull.md"

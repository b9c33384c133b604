#!/usr/bin/env bash
# bench/load.sh — a bounded load run against a real `vigil serve` on
# loopback: concurrent pushers (each push a new image on a real Alpine base,
# scanned by the server) and readers (manifest and blob pulls, image and
# finding listings), for SECONDS (default 60), then the time the scan
# backlog took to drain. Prints a Markdown table stamped with the commit.
#
# Usage: bench/load.sh [SECONDS] [PUSHERS] [READERS]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
SECS=${1:-60}
PUSHERS=${2:-2}
READERS=${3:-8}
IMAGES=${VIGIL_TESTIMAGES:-$root/.testimages}
TESTDATA=${VIGIL_TESTDATA:-$root/../shared/testdata}
GO=${GO:-go}
out=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$out"' EXIT

"$GO" build -o "$out/vigil" ./cmd/vigil
"$GO" build -o "$out/load" ./bench/load
"$out/vigil" db import --db-dir "$out/db" "$TESTDATA/vulndb" >/dev/null 2>&1

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$out/vigil" serve --data "$out/data" --db-dir "$out/db" --cache-dir "$out/cache" \
	--addr "127.0.0.1:$port" >"$out/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ -s "$out/data/initial-admin-token" ] && curl -fsS "http://127.0.0.1:$port/v2/" -o /dev/null -u "vigil:$(cat "$out/data/initial-admin-token")" 2>/dev/null && break
	sleep 0.1
done
token=$(cat "$out/data/initial-admin-token")

echo "commit $(git rev-parse --short HEAD), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
"$out/load" -addr "127.0.0.1:$port" -token "$token" -base "$IMAGES/alpine-3.20.3" \
	-duration "${SECS}s" -pushers "$PUSHERS" -readers "$READERS"

# How long the scans of the last pushes took to finish after the run.
t0=$(date +%s.%N)
for _ in $(seq 1200); do
	pending=0
	for s in PENDING SCANNING; do
		n=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/images?scanStatus=$s&maxResults=1000" |
			python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("images") or []))')
		pending=$((pending + n))
	done
	[ "$pending" = 0 ] && break
	sleep 0.1
done
t1=$(date +%s.%N)
total=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/images?maxResults=1000" |
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d.get("images") or []))')
failed=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/images?scanStatus=FAILED&maxResults=1000" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("images") or []))')
hwm=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$pid/status")
printf '\nimages stored: %s (first page); scans failed: %s; backlog drained %.1f s after the run; server peak RSS %s MiB\n' \
	"$total" "$failed" "$(echo "$t1 - $t0" | bc)" "$hwm"

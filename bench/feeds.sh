#!/usr/bin/env bash
# bench/feeds.sh — `vigil db import` of feeds at today's real scale
# (bench/feedgen: 600,000 OSV records in seven ecosystems, 300,000 NVD
# records in API 2.0 pages, a Debian tracker JSON of 40,000 source
# packages), then what matching the app image costs with that database
# against the shared test data's. Prints a Markdown table stamped with the
# commit.
#
# Usage: bench/feeds.sh [RUNS]   (RUNS: scans timed per database, default 5)
# Environment: FEEDS (where feedgen writes the feeds, kept and reused by
#              later runs; default a temporary directory),
#              VIGIL_TESTDATA, VIGIL_TESTIMAGES, GO.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
TESTDATA=${VIGIL_TESTDATA:-$(pwd)/../shared/testdata}
IMAGES=${VIGIL_TESTIMAGES:-$(pwd)/.testimages}
GO=${GO:-go}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$GO" build -o "$out/vigil" ./cmd/vigil
"$GO" build -o "$out/feedgen" ./bench/feedgen
feeds=${FEEDS:-$out/feeds}
if [ ! -f "$feeds/feedgen.log" ]; then
	"$out/feedgen" -testdata "$TESTDATA" -out "$feeds" >"$out/feedgen.log"
	mv "$out/feedgen.log" "$feeds/feedgen.log"
fi
cat "$feeds/feedgen.log"

echo "commit $(git rev-parse --short HEAD), $("$GO" version | cut -d' ' -f3), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
echo
echo "feeds: $(du -sh "$feeds" | cut -f1) on disk ($(du -sh "$feeds/osv" | cut -f1) OSV zips, $(du -sh "$feeds/nvd" | cut -f1) NVD pages, $(du -sh "$feeds/debian" | cut -f1) tracker JSON)"

/usr/bin/time -f '%e %M' -o "$out/import.time" "$out/vigil" db import --db-dir "$out/big" "$feeds" >"$out/import.log" 2>&1
read -r wall rss <"$out/import.time"
size=$(du -m "$out/big/vulndb.sqlite" | cut -f1)
"$out/vigil" db import --db-dir "$out/small" "$TESTDATA/vulndb" >/dev/null 2>&1

# The app image's inventory, made once; each scan below reads it, so the
# difference between the two databases is what matching (and scoring)
# costs.
"$out/vigil" sbom --format cyclonedx "oci:$IMAGES/debian-bullseye-app" >"$out/app.json"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
scan_ms() {
	for _ in $(seq "$RUNS"); do
		s=$(date +%s%N)
		"$out/vigil" scan --db-dir "$1" --format json --allow-partial-coverage "$out/app.json" >/dev/null 2>&1 || [ $? -le 6 ]
		e=$(date +%s%N)
		echo $(((e - s) / 1000000))
	done | median
}
small_ms=$(scan_ms "$out/small")
big_ms=$(scan_ms "$out/big")
findings() { "$out/vigil" scan --db-dir "$1" --format json --allow-partial-coverage "$out/app.json" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("findings") or []))' || true; }

echo
echo "| measure | value | target |"
echo "|---|---|---|"
echo "| \`vigil db import\` wall time | ${wall} s | < 180 s |"
echo "| \`vigil db import\` peak RSS | $((rss / 1024)) MiB | < 1024 MiB |"
echo "| database size | ${size} MiB | — |"
echo "| scan of the app image's inventory, shared data's database (median of $RUNS) | ${small_ms} ms, $(findings "$out/small") findings | — |"
echo "| the same with the full-size database | ${big_ms} ms, $(findings "$out/big") findings | — |"
echo "| matching added by the full-size database | $((big_ms - small_ms)) ms | < 100 ms |"

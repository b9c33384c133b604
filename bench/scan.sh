#!/usr/bin/env bash
# bench/scan.sh — how fast `vigil scan` answers, beside osv-scanner, both
# offline on the same inputs with the same advisories, in the same run.
#
# Usage: bench/scan.sh [RUNS]     (default 5 runs per measurement; median kept)
#
# Inputs: the Python app's lock files (../shared/testdata/lang/py-app, a
# directory both tools read) and the real app image (debian-bullseye-app)
# as a docker archive, the only image form osv-scanner reads. The
# advisories are the shared OSV zips (Go, PyPI, crates.io): osv-scanner
# reads them as its local database; Vigil imports the same files into its
# database once, before timing (as `vigil db update` does once a day).
# Vigil reads every layer (--no-layer-cache), so both tools start cold.
#
# osv-scanner: go install github.com/google/osv-scanner/cmd/osv-scanner@v1.9.2
# (on PATH or in $(go env GOPATH)/bin). Needs skopeo and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
RUNS=${1:-5}
IMAGES=${VIGIL_TESTIMAGES:-$root/.testimages}
TESTDATA=${VIGIL_TESTDATA:-$root/../shared/testdata}
out=$root/bench/out
mkdir -p "$out"
GO=${GO:-go}
export PATH=$PATH:$("$GO" env GOPATH)/bin
OSV=$(command -v osv-scanner) || { echo "bench: osv-scanner is not installed" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }
command -v skopeo >/dev/null || { echo "bench: needs skopeo" >&2; exit 1; }

"$GO" build -o "$out/vigil" ./cmd/vigil

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max() { sort -g | tail -n1; }

# measure CMD... → "median_seconds max_rss_kib"; exit status 1 (findings
# for osv-scanner) and 3 (thresholds for vigil) count as success.
measure() {
	local i t=() m=() t0 t1 rc
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s%N)
		rc=0
		/usr/bin/time -f '%M' -o "$out/time" "$@" >/dev/null 2>"$out/stderr" || rc=$?
		t1=$(date +%s%N)
		[ $rc = 0 ] || [ $rc = 1 ] || { echo "bench: failed ($rc): $*" >&2; cat "$out/stderr" >&2; return 1; }
		t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b-a)/1e9}')")
		m+=("$(tail -n1 "$out/time")")
	done
	echo "$(printf '%s\n' "${t[@]}" | median) $(printf '%s\n' "${m[@]}" | max)"
}

# osv-scanner's offline database: the shared zips, where it looks for them.
osvdb=$out/osv-db
rm -rf "$osvdb"
for eco in Go PyPI crates.io; do
	mkdir -p "$osvdb/osv-scanner/$eco"
	ln -s "$TESTDATA/vulndb/osv/$eco/all.zip" "$osvdb/osv-scanner/$eco/all.zip"
done
export OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY=$osvdb

# Vigil's database: the same zips.
vdb=$out/vigil-db
rm -rf "$vdb"
"$out/vigil" db import --db-dir "$vdb" "$TESTDATA/vulndb/osv/Go" "$TESTDATA/vulndb/osv/PyPI" "$TESTDATA/vulndb/osv/crates.io" >/dev/null

archive=$out/app.tar
[ -f "$archive" ] || skopeo copy -q "oci:$IMAGES/debian-bullseye-app:latest" "docker-archive:$archive:app:latest"

count_osv() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(len(p.get("vulnerabilities") or []) for r in d.get("results") or [] for p in r.get("packages") or []))'; }
count_vigil() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d.get("findings") or []))'; }

{
echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $RUNS runs each, median wall time, peak RSS; $($OSV --version 2>/dev/null | head -n1)."
echo
echo "| input | vigil s | vigil peak MiB | vigil findings | osv-scanner s | osv-scanner peak MiB | osv-scanner findings | osv-scanner/vigil |"
echo "|---|---|---|---|---|---|---|---|"
row() { # name, vigil source, osv-scanner args...
	local name=$1 src=$2
	shift 2
	read -r vs vk <<<"$(measure "$out/vigil" scan "$src" --db-dir "$vdb" --no-layer-cache --progress=false --format json --output /dev/null)"
	read -r os ok <<<"$(measure "$OSV" scan --format json --experimental-offline-vulnerabilities "$@")"
	local vn on
	vn=$("$out/vigil" scan "$src" --db-dir "$vdb" --no-layer-cache --progress=false --format json 2>/dev/null | count_vigil)
	on=$("$OSV" scan --format json --experimental-offline-vulnerabilities "$@" 2>/dev/null | count_osv || true)
	awk -v n="$name" -v v="$vs" -v vk="$vk" -v vn="$vn" -v o="$os" -v ok="$ok" -v on="$on" 'BEGIN {
		printf "| %s | %.3f | %.0f | %s | %.3f | %.0f | %s | %.1f× |\n", n, v, vk/1024, vn, o, ok/1024, on, o/v }'
}
row "py-app (lock files)" "dir:$TESTDATA/lang/py-app" -r "$TESTDATA/lang/py-app"
row "debian-bullseye-app (docker archive)" "archive:$archive" --experimental-oci-image "$archive"
} | tee "$out/scan-results.md"

#!/usr/bin/env bash
# bench/run.sh — how fast `vigil sbom` inventories real images, measured
# beside the decompression floor and beside Syft, all in the same run.
#
# Usage: bench/run.sh [RUNS]     (default 5 runs per measurement; median kept)
#
# For every image built by ../shared/scripts/build-test-images.sh (in
# $VIGIL_TESTIMAGES, default .testimages) and every Alpine minirootfs
# tarball in ../shared/testdata/images/alpine it reports:
#   floor   time for a process to read and decompress every layer and
#           nothing else (bench/floor, same parallelism as the analyzer)
#   vigil   wall time and peak RSS of `vigil sbom --no-layer-cache`
#   syft    wall time and peak RSS of `syft scan` (v1.42.0) on the same input
# plus layer MB/s (uncompressed bytes over vigil's time), vigil/floor and
# syft/vigil. Results go to standard output as a Markdown table and to
# bench/out/results.md.
#
# Syft: go install github.com/anchore/syft/cmd/syft@v1.42.0 (found on PATH or
# in $(go env GOPATH)/bin); skipped with a note when absent.
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

"$GO" build -o "$out/vigil" ./cmd/vigil
"$GO" build -o "$out/floor" ./bench/floor
SYFT=$(command -v syft || true)
[ -x /usr/bin/time ] || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }
export SYFT_CHECK_FOR_APP_UPDATE=false

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max() { sort -g | tail -n1; }

# measure CMD... → "median_seconds max_rss_kib" over $RUNS runs. Wall time
# is taken around the whole process (nanosecond clock), peak RSS from GNU
# time, so every tool pays its own start-up alike.
measure() {
	local i t=() m=() t0 t1
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s%N)
		/usr/bin/time -f '%M' -o "$out/time" "$@" >/dev/null 2>"$out/stderr" ||
			{ echo "bench: failed: $*" >&2; cat "$out/stderr" >&2; return 1; }
		t1=$(date +%s%N)
		t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b-a)/1e9}')")
		m+=("$(cat "$out/time")")
	done
	echo "$(printf '%s\n' "${t[@]}" | median) $(printf '%s\n' "${m[@]}" | max)"
}

sources=()
for d in "$IMAGES"/*/; do
	[ -f "$d/.complete" ] && sources+=("oci:${d%/}:latest")
done
for f in "$TESTDATA"/images/alpine/*.tar.gz; do
	sources+=("rootfs:$f")
done
[ ${#sources[@]} -gt 0 ] || { echo "bench: no images in $IMAGES (run ../shared/scripts/build-test-images.sh)" >&2; exit 1; }

{
echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $RUNS runs each, median wall time, peak RSS."
echo
echo "| image | layers MB (stored / raw) | floor s | vigil s | vigil MB/s | vigil peak MiB | vigil/floor | syft s | syft peak MiB | syft/vigil |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for src in "${sources[@]}"; do
	name=${src#*:}; name=${name%:latest}; name=$(basename "$name")
	read -r _ stored raw _ <<<"$("$out/floor" "$src")"
	read -r floor _ <<<"$(measure "$out/floor" "$src")"
	read -r vs vk <<<"$(measure "$out/vigil" sbom "$src" --no-layer-cache --progress=false --format json --output /dev/null)"
	syft_s=-; syft_m=-; ratio=-
	if [ -n "$SYFT" ]; then
		case $src in
		oci:*) ssrc="oci-dir:${src#oci:}"; ssrc=${ssrc%:latest} ;;
		rootfs:*) # Syft reads a root filesystem from a directory: unpack it once.
			d=$out/rootfs-$name; rm -rf "$d"; mkdir -p "$d"; tar -xzf "${src#rootfs:}" -C "$d"; ssrc="dir:$d" ;;
		esac
		read -r syft_s sk <<<"$(measure "$SYFT" scan "$ssrc" -q -o syft-json="$out/syft.json")"
		syft_m=$(awk -v k="$sk" 'BEGIN {printf "%.0f", k/1024}')
		ratio=$(awk -v a="$syft_s" -v b="$vs" 'BEGIN {printf "%.1f×", a/b}')
	fi
	awk -v n="$name" -v st="$stored" -v r="$raw" -v f="$floor" -v v="$vs" -v vk="$vk" -v ss="$syft_s" -v sm="$syft_m" -v ra="$ratio" 'BEGIN {
		printf "| %s | %.1f / %.1f | %.3f | %.3f | %.0f | %.0f | %.2f× | %s | %s | %s |\n",
			n, st/1e6, r/1e6, f, v, r/1e6/v, vk/1024, v/f, ss, sm, ra }'
done

# Scanning: the same images with a warm vulnerability database (every feed
# in the shared test data), against inventory alone: what matching and
# scoring add.
export VIGIL_CACHE_DIR=$out/cache
"$out/vigil" db import "$TESTDATA/vulndb" >/dev/null 2>&1
echo
echo "| image | vigil sbom s | vigil scan s | matching adds ms | findings |"
echo "|---|---|---|---|---|"
for src in "${sources[@]}"; do
	name=${src#*:}; name=${name%:latest}; name=$(basename "$name")
	read -r ss _ <<<"$(measure "$out/vigil" sbom "$src" --no-layer-cache --progress=false --format json --output /dev/null)"
	read -r sc _ <<<"$(measure "$out/vigil" scan "$src" --no-layer-cache --progress=false --format json --output /dev/null)"
	n=$("$out/vigil" scan "$src" --no-layer-cache --progress=false --format json 2>/dev/null | grep -c '"title"' || true)
	awk -v n="$name" -v a="$ss" -v b="$sc" -v f="$n" 'BEGIN { printf "| %s | %.3f | %.3f | %.0f | %s |\n", n, a, b, (b-a)*1000, f }'
done
} | tee "$out/results.md"

#!/usr/bin/env bash
# bench/client.sh — a clean CI runner (empty cache, no database) scanning
# the app image in client mode: `vigil scan --server` inventories the image
# there and the server matches and scores it. Measured: wall time and the
# bytes the runner sent and received; beside it, the same runner getting
# the database first (`vigil db pull`, the full artifact) and scanning
# locally. Both reports must have the same findings (id, purl, path,
# score, severity), or the script fails.
#
# Usage: bench/client.sh       (writes bench/out/client.md)
#
# The server is a real `vigil serve` on a loopback port with every shared
# feed imported (../shared/testdata/vulndb), as in bench/dbpull.sh. The
# runner reaches it through a counting proxy (python3), which records the
# bytes of every request and answer body. The app image is the OCI layout
# the test images script builds (.testimages, or $VIGIL_TESTIMAGES).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
TESTDATA=${VIGIL_TESTDATA:-$root/../shared/testdata}
IMAGES=${VIGIL_TESTIMAGES:-$root/.testimages}
app=$IMAGES/debian-bullseye-app
[ -f "$app/index.json" ] || { echo "bench: no app image at $app (build the test images)" >&2; exit 1; }
out=$root/bench/out
mkdir -p "$out"
GO=${GO:-go}

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
mibs() { awk -v n="$1" 'BEGIN {printf "%.2f", n/1048576}'; }

# The server, with every shared feed.
"$vigil" db import --db-dir "$work/server-db" "$TESTDATA/vulndb" >/dev/null 2>&1
p=$(port)
"$vigil" serve --data "$work/server" --db-dir "$work/server-db" --addr "127.0.0.1:$p" --workers 1 2>"$work/server.log" &
pids+=($!)
for _ in $(seq 600); do grep -q 'vulnerability database published' "$work/server.log" 2>/dev/null && break; sleep 0.2; done
grep -q 'vulnerability database published' "$work/server.log" || { echo "bench: the server did not publish its database" >&2; cat "$work/server.log" >&2; exit 1; }
admin=$(cat "$work/server/initial-admin-token")
token=$(VIGIL_SERVER=http://127.0.0.1:$p VIGIL_TOKEN=$admin "$vigil" tokens create ci --role pipeline 2>/dev/null)

# The counting proxy between runner and server.
q=$(port)
python3 - "$q" "$p" "$work/bytes.tsv" <<'EOF' &
import http.client, http.server, sys
listen, upstream, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def relay(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=600)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c.request(self.command, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(log, "a") as f:
            f.write(f"{self.command} {self.path.split('?')[0]}\t{n}\t{len(data)}\n")
    do_GET = do_POST = do_HEAD = do_PUT = relay
http.server.ThreadingHTTPServer(("127.0.0.1", listen), Proxy).serve_forever()
EOF
pids+=($!)
for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$q),1)" 2>/dev/null && break; sleep 0.1; done
export VIGIL_TOKEN=$token

# Runner 1: client mode, born empty.
: >"$work/bytes.tsv"
t0=$(now)
HOME=$work/runner1 VIGIL_CACHE_DIR=$work/runner1 "$vigil" scan "oci:$app:latest" --server "http://127.0.0.1:$q" \
	--format json --output "$work/client.json" 2>"$work/client.log"
t1=$(now)
client_s=$(secs "$t0" "$t1")
read -r client_up client_down < <(awk -F'\t' '{u+=$2; d+=$3} END {print u+0, d+0}' "$work/bytes.tsv")
[ -e "$work/runner1/db" ] && { echo "bench: client mode made a database on the runner" >&2; exit 1; }

# Runner 2: the database first, then a local scan.
: >"$work/bytes.tsv"
t0=$(now)
HOME=$work/runner2 VIGIL_CACHE_DIR=$work/runner2 VIGIL_SERVER=http://127.0.0.1:$p "$vigil" db pull --insecure "127.0.0.1:$p/vigil/db:latest" --json >"$work/pull.json" 2>"$work/pull.log"
t1=$(now)
HOME=$work/runner2 VIGIL_CACHE_DIR=$work/runner2 "$vigil" scan "oci:$app:latest" --format json --output "$work/local.json" 2>"$work/local.log"
t2=$(now)
pull_s=$(secs "$t0" "$t1")
local_s=$(secs "$t1" "$t2")
total_s=$(secs "$t0" "$t2")
pull_bytes=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])' <"$work/pull.json")

n=$(python3 - "$work/client.json" "$work/local.json" <<'EOF'
import json, sys
def findings(f):
    d = json.load(open(f))
    return {(x["id"], x["package"]["purl"], x["package"]["path"]): (x["score"]["value"], x["score"]["severity"]) for x in d["findings"]}
c, l = findings(sys.argv[1]), findings(sys.argv[2])
if c != l:
    sys.exit("bench: client mode and the local scan differ: %s" % sorted(set(c.items()) ^ set(l.items()))[:10])
print(len(c))
EOF
)

commit=$(git rev-parse --short HEAD)
cat >"$out/client.md" <<EOF
Measured $(date -u +%Y-%m-%dT%H:%MZ) at commit $commit on $(nproc) CPUs, one run each (bench/client.sh); the app image (debian-bullseye-app), $n findings, the same in both reports.

| clean runner | sent | received | wall s |
|---|---|---|---|
| \`vigil scan --server\` (client mode; no database on the runner) | $(mibs "$client_up") MiB ($client_up B) | $(mibs "$client_down") MiB ($client_down B) | $client_s |
| \`vigil db pull\` (full) then \`vigil scan\` locally | — | $(mibs "$pull_bytes") MiB ($pull_bytes B) from the registry | $total_s ($pull_s pull + $local_s scan) |
EOF
cat "$out/client.md"

#!/usr/bin/env bash
# Load test of the web front on loopback: `fedreport demo` makes a lake,
# 45 focal-point accounts and a secretariat account are added, `fedreport
# serve` is started, and crates/web/examples/load.rs signs all 45 focal
# points in at once; each uploads, submits and polls ROUNDS returns of ROWS
# rows while the secretariat refreshes the board. Prints requests/s, p50/p99
# per request kind, the server's peak memory, and checks that every upload
# has exactly one receipt.
#
#   bench/web_load.sh [ROUNDS] [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
ROWS=${2:-2000}
TARGET=${CARGO_TARGET_DIR:-target}/release
# The test command's build has both (cargo test builds the examples); building
# them with other package or feature selections would recompile DataFusion.
if [ ! -x "$TARGET/fedreport" ] || [ ! -x "$TARGET/examples/load" ]; then
  cargo test --release --workspace --features fedreport/ballista --no-run -q
fi
WORK=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
"$TARGET/fedreport" demo --out "$WORK/demo" > /dev/null
LAKE="$WORK/demo/lake"
export FEDREPORT_PASSWORD="load test passphrase"
"$TARGET/fedreport" user add secretariat --role secretariat --lake "$LAKE" > /dev/null
for m in $(awk -F, 'NR > 1 && $3 != "organisation" {print $1}' reference/members.csv); do
  "$TARGET/fedreport" user add "fp-$(echo "$m" | tr 'A-Z' 'a-z')" --role focal-point --member "$m" --lake "$LAKE" > /dev/null
done
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TARGET/fedreport" serve --lake "$LAKE" --listen "127.0.0.1:$PORT" --session-key "$WORK/key" > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); lake: local folder"
"$TARGET/examples/load" --base "http://127.0.0.1:$PORT" --lake "$LAKE" --password "$FEDREPORT_PASSWORD" --rounds "$ROUNDS" --rows "$ROWS"
echo "server peak resident memory: $(awk '/VmHWM/ {printf "%d MiB", $2/1024}' "/proc/$SERVER/status")"

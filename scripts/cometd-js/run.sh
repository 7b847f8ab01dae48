#!/usr/bin/env bash
# Optional independent check (needs Node >= 20 and npm; not part of CI):
# starts `gws-conform serve` on a free loopback port, installs the official CometD
# JavaScript client (npm ci), runs walk.mjs against the server, stops the server.
#
#   scripts/cometd-js/run.sh [--fault NAME]    (a fault shows walk.mjs failing)
#
# The binary is $GWS_CONFORM_BIN, else target/debug/gws-conform (built if missing).
# Exit status: walk.mjs's (0 pass, 1 fail); 2 usage; 3 the server did not start.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

serve_args=()
case "$#:${1:-}" in
  0:) ;;
  1:--fault | 2:--fault)
    [[ -n "${2:-}" ]] || { echo "run.sh: --fault needs a NAME (gws-conform serve --list-faults)" >&2; exit 2; }
    serve_args=(--fault "$2") ;;
  *) echo "usage: run.sh [--fault NAME]" >&2; exit 2 ;;
esac

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run.sh: $tool is not installed (Node >= 20 and npm are needed)" >&2; exit 2; }
done

if [[ -n "${GWS_CONFORM_BIN:-}" ]]; then
  bin=$GWS_CONFORM_BIN
  [[ -x "$bin" ]] || { echo "run.sh: GWS_CONFORM_BIN=$bin is not an executable file" >&2; exit 2; }
else
  bin=$root/target/debug/gws-conform
  [[ -x "$bin" ]] || (cd "$root" && cargo build --quiet)
fi

log=$(mktemp)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT

# Port 0: the server picks a free port and prints its base URL first.
# The default agents include agent1:agent1-pass, the walk's default GWS_AGENT.
"$bin" serve --bind 127.0.0.1:0 "${serve_args[@]}" >"$log" 2>&1 &
server_pid=$!
base=
for _ in $(seq 100); do
  base=$(head -n 1 "$log" | grep -E '^https?://' || true)
  [[ -n "$base" ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$base" ]]; then
  echo "run.sh: the server did not print its base URL:" >&2
  cat "$log" >&2
  exit 3
fi
echo "server: $base (pid $server_pid${serve_args:+, ${serve_args[*]}})"

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

status=0
(cd "$here" && GWS_AGENT="${GWS_AGENT:-agent1:agent1-pass}" node walk.mjs "$base") || status=$?
exit "$status"

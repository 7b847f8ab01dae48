#!/usr/bin/env bash
# Runs Schemathesis (PyPI `schemathesis`) with the exported OpenAPI document against the
# embedded reference server (`gws-conform serve --no-csrf`), with all of Schemathesis'
# default checks.
# Usage: scripts/schemathesis.sh [--fault NAME] [--max-examples N] [--bin PATH]
# Exit: Schemathesis' exit code (0 no failure, 1 failures), 3 setup error.
set -u
cd "$(dirname "$0")/.."

FAULT=""; N=25; BIN=""
while [ $# -gt 0 ]; do
  case "$1" in
    --fault) FAULT=$2; shift 2 ;;
    --max-examples) N=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 3 ;;
  esac
done
if [ -z "$BIN" ]; then
  cargo build --quiet --bin gws-conform || exit 3
  BIN=target/debug/gws-conform
fi
if ! command -v st >/dev/null 2>&1; then
  echo "installing schemathesis (pip)" >&2
  python3 -m pip install --quiet schemathesis 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages schemathesis \
    || { echo "cannot install schemathesis" >&2; exit 3; }
  hash -r
fi

TMP=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

"$BIN" export openapi --out "$TMP/openapi.json" || exit 3
args=(serve --no-csrf --bind 127.0.0.1:0)
[ -n "$FAULT" ] && args+=(--fault "$FAULT")
"$BIN" "${args[@]}" >"$TMP/url" 2>"$TMP/serve.err" &
SERVER=$!
for _ in $(seq 50); do [ -s "$TMP/url" ] && break; sleep 0.1; done
URL=$(head -n1 "$TMP/url")
[ -n "$URL" ] || { echo "server did not start: $(cat "$TMP/serve.err")" >&2; exit 3; }

# Checks and operations left out, and why (docs/ecosystem.md):
# - negative_data_rejection is kept, with 200 added to its expected statuses: SPEC §6.3
#   lets a refusal come with HTTP 200 and a statusCode body (the harness judges the body,
#   CMP-18); Schemathesis would otherwise count every such refusal as "accepted".
# - the provider-state operation is excluded: which params a state needs is a table in
#   SPEC §1.5, not in the request schema, so generated "valid" requests lack them.
cat >"$TMP/schemathesis.toml" <<'TOML'
[checks.negative_data_rejection]
expected-statuses = ["200", "400", "401", "403", "404", "405", "406", "413", "422"]
TOML
# The server runs without CSRF (--no-csrf), so no token is needed; agent1 is a test
# account of the embedded server, not a secret. ContactCenterId is the customer API's
# apiKey (its default value on the embedded server).
st --config-file "$TMP/schemathesis.toml" run "$TMP/openapi.json" --url "$URL" \
  --auth agent1:agent1-pass \
  --header "ContactCenterId: gws-conform" \
  --max-examples "$N" --seed 14 \
  --suppress-health-check all \
  --exclude-path /conformance/provider-state \
  --output-truncate true

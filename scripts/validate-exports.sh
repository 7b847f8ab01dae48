#!/usr/bin/env bash
# Exports the contract (OpenAPI 3.1, AsyncAPI 3.0) and validates both with the real
# validators: openapi-spec-validator (PyPI) and `asyncapi validate` (npm @asyncapi/cli).
# Installs them when missing (quietly: pip --user/--break-system-packages, npm -g).
# Usage: scripts/validate-exports.sh [path/to/gws-conform]   (default: cargo run)
# Exit: 0 both valid, 1 a document is invalid, 3 a tool could not be installed or run.
set -u
cd "$(dirname "$0")/.."

BIN=${1:-}
if [ -z "$BIN" ]; then
  cargo build --quiet --bin gws-conform || exit 3
  BIN=target/debug/gws-conform
fi

export ASYNCAPI_ANALYTICS_DISABLED=1 DO_NOT_TRACK=1

if ! command -v openapi-spec-validator >/dev/null 2>&1; then
  echo "installing openapi-spec-validator (pip)" >&2
  python3 -m pip install --quiet openapi-spec-validator 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages openapi-spec-validator \
    || { echo "cannot install openapi-spec-validator" >&2; exit 3; }
  hash -r
fi
if ! command -v asyncapi >/dev/null 2>&1; then
  echo "installing @asyncapi/cli (npm)" >&2
  npm install --global --silent --no-fund --no-audit @asyncapi/cli >/dev/null \
    || { echo "cannot install @asyncapi/cli" >&2; exit 3; }
  hash -r
fi
# The CLI asks to send analytics on first use; say no once (it then stays off).
asyncapi config analytics --disable >/dev/null 2>&1 || true

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BIN" export openapi --out "$TMP/openapi.json" || exit 3
"$BIN" export asyncapi --out "$TMP/asyncapi.json" || exit 3

status=0
echo "== openapi-spec-validator"
openapi-spec-validator "$TMP/openapi.json" || status=1
echo "== asyncapi validate"
# --fail-severity=warn: a warning of the AsyncAPI ruleset fails too (an info does not).
asyncapi validate "$TMP/asyncapi.json" --fail-severity=warn || status=1
exit $status

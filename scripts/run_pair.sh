#!/usr/bin/env bash
# Run the Chile and Panama nodes in the foreground; Ctrl-C stops both cleanly.
# Needs keys and an agreement first:
#   bx keys init node_chile && bx keys init node_panama
#   bx agreement init node_chile node_panama
set -euo pipefail
cd "$(dirname "$0")/.."
BX="${BX:-.venv/bin/bx}"
[ -x "$BX" ] || BX=bx

"$BX" node run node_chile &
chile=$!
"$BX" node run node_panama &
panama=$!

stopped=0
stop() {
  trap - INT TERM
  stopped=1
  kill -TERM "$chile" "$panama" 2>/dev/null || true
  wait "$chile" "$panama" 2>/dev/null || true
}
trap stop INT TERM

# Return as soon as either node exits (e.g. a port in use), stopping the other.
status=0
wait -n "$chile" "$panama" || status=$?
if [ "$stopped" = 1 ]; then
  exit 0  # stopped on request: both nodes shut down cleanly
fi
stop
exit "$status"

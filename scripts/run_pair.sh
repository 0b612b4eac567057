#!/usr/bin/env bash
# Run nodes in the foreground; Ctrl-C stops them all cleanly.
#   scripts/run_pair.sh                                   # node_chile and node_panama
#   scripts/run_pair.sh node_chile node_panama node_mexico
# Needs keys and agreements first:
#   bx keys init -n node_chile && bx keys init -n node_panama
#   bx agreement init -n node_chile --partner-node node_panama
set -euo pipefail
cd "$(dirname "$0")/.."
BX="${BX:-.venv/bin/bx}"
[ -x "$BX" ] || BX=bx

folders=("$@")
[ ${#folders[@]} -gt 0 ] || folders=(node_chile node_panama)

pids=()
for folder in "${folders[@]}"; do
  "$BX" node run -n "$folder" &
  pids+=($!)
done

stopped=0
stop() {
  trap - INT TERM
  stopped=1
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM

# Return as soon as any node exits (e.g. a port in use), stopping the others.
status=0
wait -n "${pids[@]}" || status=$?
if [ "$stopped" = 1 ]; then
  exit 0  # stopped on request: every node shut down cleanly
fi
stop
exit "$status"

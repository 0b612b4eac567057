#!/usr/bin/env bash
# Run several processes of one node in the foreground; Ctrl-C stops them all cleanly.
#   scripts/run_replicas.sh node_chile            # two processes
#   scripts/run_replicas.sh node_chile 3          # three
# The node's store must be PostgreSQL ([store] url in node.toml): the processes share
# its database and one address (SO_REUSEPORT), each holding a slot of its own in
# data/ (node.lock, node-2.lock… and running.json, running-2.json…). A process that
# exits is not restarted here (a service manager's job); the others serve on.
set -euo pipefail
cd "$(dirname "$0")/.."
BX="${BX:-.venv/bin/bx}"
[ -x "$BX" ] || BX=bx

folder="${1:?usage: scripts/run_replicas.sh NODE_FOLDER [PROCESSES]}"
count="${2:-2}"
if ! [[ "$count" =~ ^[0-9]+$ ]] || [ "$count" -lt 1 ] || [ "$count" -gt 16 ]; then
  echo "run_replicas.sh: PROCESSES must be 1 to 16, not '$count'" >&2
  exit 2
fi
if ! grep -Eq '^\[store\]' "$folder/node.toml" 2>/dev/null; then
  echo "run_replicas.sh: $folder/node.toml has no [store] url: a SQLite node is served" \
    "by one process (see docs/operations.md, Several processes of one node)" >&2
  exit 2
fi

pids=()
for _ in $(seq "$count"); do
  "$BX" node run "$folder" &
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

# Return once every process has exited, or all of them on Ctrl-C.
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=$?
done
if [ "$stopped" = 1 ]; then
  exit 0
fi
exit "$status"

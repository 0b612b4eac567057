#!/usr/bin/env bash
# Run several processes of one node in the foreground, each line prefixed with the
# node's country and the process's number ([CHL-1] …, [CHL-2] …); Ctrl-C stops them
# all cleanly.
#   scripts/run_replicas.sh node_chile            # two processes
#   scripts/run_replicas.sh node_chile 3          # three
# The node's store must be PostgreSQL ([store] url in node.toml): the processes share
# its database and one address (SO_REUSEPORT), each holding a slot of its own in
# data/ (node.lock, node-2.lock… and running.json, running-2.json…). A process that
# exits is not restarted here (a service manager's job); the others serve on.
# Exit status: 0 when stopped on request, else that of the last process to exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BX="${BX:-.venv/bin/bx}"
[ -x "$BX" ] || BX=bx
# shellcheck source=scripts/lib/foreground.sh
. scripts/lib/foreground.sh

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

country="$(country_of "$folder")"
if [ -z "$country" ]; then
  echo "run_replicas.sh: $folder/node.toml: no [node] country" >&2
  exit 2
fi

for n in $(seq "$count"); do
  start_prefixed "$country-$n" "$((${#country} + ${#count} + 1))" "$BX" node run -n "$folder"
done
trap stop_all INT TERM

# Return once every process has exited, or all of them on Ctrl-C.
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=$?
done
drain
if [ "$stopped" = 1 ]; then
  exit 0
fi
exit "$status"

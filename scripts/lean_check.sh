#!/usr/bin/env bash
# The lean install: a fresh venv, `pip install .` with no extra (pinned by
# constraints.txt), then check that the heavy stacks stayed out, that
# `pip check` passes and that bx and a node's modules import.
#   scripts/lean_check.sh            # a temporary venv, removed afterwards
#   LEAN_VENV=/tmp/lean scripts/lean_check.sh   # keep the venv there
# Every check runs; the exit status is 1 when any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
venv="${LEAN_VENV:-$tmp/venv}"
rm -rf "$venv"

started=$SECONDS
# Build from a copy of the tracked and new files: no stale build/ of the work tree.
mkdir "$tmp/src"
git ls-files -z --cached --others --exclude-standard | tar -c --null --ignore-failed-read -T - | tar -x -C "$tmp/src"
"$PYTHON" -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install --quiet --upgrade -c constraints.txt "pip>=24"
"$py" -m pip install --quiet -c constraints.txt "$tmp/src"
echo "installed in $((SECONDS - started)) s; venv $(du -sh "$venv" | cut -f1)"

failed=0
check() {
  local what="$1"
  shift
  local log
  if log="$("$@" 2>&1)"; then
    echo "ok    $what"
  else
    echo "FAIL  $what"
    printf '%s\n' "$log" | tail -n 3 | sed 's/^/      /'
    failed=1
  fi
}

# Modules that only the extras bring (faces, sim, eval, bench, console, blind,
# postgres) or that the runtime no longer needs at all (pandas, country_converter).
for module in pandas sklearn matplotlib dlib face_recognition faker faiss tenseal \
  country_converter starlette uvicorn jinja2 argon2 psycopg; do
  check "no $module" "$py" -c "
import importlib.util, sys
sys.exit(importlib.util.find_spec('$module') is not None)"
done
check "pip check" "$py" -m pip check
check "bx --help" "$venv/bin/bx" --help
check "bx node run --help" "$venv/bin/bx" node run --help
check "bx console --help" "$venv/bin/bx" console --help
check "import biometric_exchange.node.process" "$py" -c "import biometric_exchange.node.process"
# A pair made with the runtime's own tools; Chile's node serves, then stops on SIGTERM.
check "bx node run serves a node" "$py" -c "
import pathlib, sys
from biometric_exchange.workspace import create_pair, start_node_process, stop_process, wait_serving
chile, _ = create_pair(pathlib.Path('$tmp/pair'))
process = start_node_process(chile, pathlib.Path('$tmp/pair/chile.log'))
try:
    wait_serving(chile, process, timeout=60)
finally:
    status = stop_process(process)
sys.exit(status)"

echo "lean check done in $((SECONDS - started)) s"
exit "$failed"

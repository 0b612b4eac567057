# Shared by scripts/run_pair.sh and scripts/run_replicas.sh (sourced, not run):
# node processes in the foreground, each line prefixed with a label, all stopped
# cleanly on Ctrl-C.
#   start_prefixed LABEL WIDTH COMMAND...   start COMMAND, its output prefixed [LABEL]
#   stop_all                                SIGTERM every process started, wait for them
#   drain                                   wait until every prefixed line is out
#   country_of FOLDER                       the [node] country of FOLDER/node.toml
# Uses the arrays pids and prefixers, and the flag stopped (1 once stop_all ran).

pids=()
prefixers=()
stopped=0

prefix() {  # label width: copy stdin to stdout, each line after the padded label
  trap '' INT TERM  # a stopping node's last lines still come out
  local label line
  label="$(printf '%-*s' "$(($2 + 2))" "[$1]")"
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s %s\n' "$label" "$line"
  done
}

start_prefixed() {
  local label="$1" width="$2" out
  shift 2
  exec {out}> >(prefix "$label" "$width")
  prefixers+=($!)
  "$@" >&"$out" 2>&1 &
  pids+=($!)
  exec {out}>&-
}

stop_all() {
  trap - INT TERM
  stopped=1
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}

drain() {
  local p
  for p in "${prefixers[@]}"; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
  done
}

country_of() {
  sed -n 's/^country *= *"\([A-Z]*\)".*/\1/p' "$1/node.toml" | head -n 1
}

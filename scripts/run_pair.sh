#!/usr/bin/env bash
# Run nodes in the foreground, each line prefixed with its node's country
# ([CHL] …, [PAN] …); Ctrl-C stops them all cleanly.
#   scripts/run_pair.sh                                   # node_chile and node_panama
#   scripts/run_pair.sh node_chile node_panama node_mexico
# Each folder needs its keys, and an agreement with each other folder named;
# when one is missing, the script prints the commands that make it and exits 2.
# Exit status: 0 when stopped on request, else that of the first node to exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BX="${BX:-.venv/bin/bx}"
[ -x "$BX" ] || BX=bx

folders=("$@")
[ ${#folders[@]} -gt 0 ] || folders=(node_chile node_panama)
TERMS=src/biometric_exchange/agreement
# shellcheck source=scripts/lib/foreground.sh
. scripts/lib/foreground.sh

terms_for() {  # the terms shipped for a pair of countries (none: the Chile-Panama default)
  case "$(printf '%s\n' "$1" "$2" | sort | paste -sd- -)" in
    CHL-MEX) echo " --terms $TERMS/chile_mexico.toml" ;;
    MEX-PAN) echo " --terms $TERMS/panama_mexico.toml" ;;
    *) echo "" ;;
  esac
}

holds_agreement_with() {  # folder, partner country
  [ -f "$1/agreements/$2.toml" ] ||
    { [ -f "$1/agreement.toml" ] && grep -q "^code = \"$2\"" "$1/agreement.toml"; }
}

# What each folder lacks, as the commands that make it.
countries=()
missing=()
for folder in "${folders[@]}"; do
  if [ ! -f "$folder/node.toml" ]; then
    echo "run_pair.sh: $folder/node.toml not found (a node folder holds node.toml)" >&2
    exit 2
  fi
  country="$(country_of "$folder")"
  if [ -z "$country" ]; then
    echo "run_pair.sh: $folder/node.toml: no [node] country" >&2
    exit 2
  fi
  countries+=("$country")
  [ -d "$folder/keys" ] || missing+=("bx keys init -n $folder")
done
for ((i = 0; i < ${#folders[@]}; i++)); do
  for ((j = i + 1; j < ${#folders[@]}; j++)); do
    if ! holds_agreement_with "${folders[i]}" "${countries[j]}" ||
      ! holds_agreement_with "${folders[j]}" "${countries[i]}"; then
      missing+=("bx agreement init -n ${folders[i]} --partner-node ${folders[j]}$(terms_for "${countries[i]}" "${countries[j]}")")
    fi
  done
done
if [ ${#missing[@]} -gt 0 ]; then
  {
    echo "run_pair.sh: not ready to run; first run (with .venv/bin on PATH, or bx installed):"
    printf '  %s\n' "${missing[@]}"
  } >&2
  exit 2
fi

# Each node's output (stdout and stderr) goes through a prefixer that ignores
# Ctrl-C, so that the lines a stopping node writes still come out.
width=0
for country in "${countries[@]}"; do
  [ ${#country} -gt "$width" ] && width=${#country}
done
for ((i = 0; i < ${#folders[@]}; i++)); do
  start_prefixed "${countries[i]}" "$width" "$BX" node run -n "${folders[i]}"
done
trap stop_all INT TERM

# Return as soon as any node exits (e.g. a port in use), stopping the others.
status=0
wait -n "${pids[@]}" || status=$?
if [ "$stopped" = 1 ]; then
  drain
  exit 0  # stopped on request: every node shut down cleanly
fi
stop_all
drain
exit "$status"

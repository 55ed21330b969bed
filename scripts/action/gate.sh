#!/usr/bin/env bash
# The chaosgate GitHub Action's gate step (action.yml runs it;
# harness/tests/{integration,docker}/action_steps.rs test it with the GITHUB_* files pointed
# at temporary files, without and with a real run).
#
# Runs `chaosgate run` (or `chaosgate ab` when a baseline or candidate is given), then:
#   - appends each new run's summary.md to $GITHUB_STEP_SUMMARY,
#   - prints one ::error annotation per breached SLO and one ::warning per inconclusive SLO
#     (`chaosgate annotate`),
#   - writes the outputs verdict, exit-code, report-path and reports to $GITHUB_OUTPUT (also
#     when the inputs are wrong: exit 2, verdict bad-input),
#   - exits with chaosgate's exit code (0 pass, 1 breached, 2 bad input, 3 infrastructure,
#     4 inconclusive).
#
# Inputs, from the environment (action.yml maps its inputs onto these):
#   CHAOSGATE              the chaosgate binary (default: `chaosgate` on PATH)
#   INPUT_SCENARIOS        scenario files, one per line or separated by spaces
#   INPUT_SEED             --seed
#   INPUT_SET              KEY=VALUE lines, each passed as --set
#   INPUT_BASELINE         KEY=VALUE lines: with INPUT_CANDIDATE, runs `chaosgate ab`
#   INPUT_CANDIDATE        KEY=VALUE lines
#   INPUT_REPEAT           --repeat N (empty or 1: not passed)
#   INPUT_FAIL_FAST        true: --fail-fast
#   INPUT_REPORT_DIR       --report-dir (default: chaosgate-reports)
#   INPUT_SUDO             true: run chaosgate with sudo when not root (faults need root)
#   GATE_PRINT_ARGS=1      print the chaosgate command line, one argument per line, and exit 0
#                          (nothing is run or written)
set -euo pipefail

chaosgate="${CHAOSGATE:-chaosgate}"
report_dir="${INPUT_REPORT_DIR:-chaosgate-reports}"

# Writes the step's outputs and exits with `code`: every way out of this script goes through here.
new_reports=()
finish() {
  local code="$1" verdict
  case "$code" in
    0) verdict=pass ;;
    1) verdict=breached ;;
    2) verdict=bad-input ;;
    3) verdict=infrastructure-error ;;
    4) verdict=inconclusive ;;
    *) verdict=error ;;
  esac
  if ((${#new_reports[@]} == 0)); then
    # Nothing was judged (bad input, or the stack never came up): one annotation says so.
    echo "::error title=chaosgate action::no report was written (exit ${code}, ${verdict}); see the log"
    printf '## chaosgate: %s\n\nNo report was written (exit code %s); see the job log.\n\n' \
      "$verdict" "$code" >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
  fi
  local delimiter
  delimiter="chaosgate_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  {
    echo "verdict=${verdict}"
    echo "exit-code=${code}"
    echo "report-path=${report_dir}"
    echo "reports<<${delimiter}"
    for f in "${new_reports[@]}"; do echo "$f"; done
    echo "${delimiter}"
  } >>"${GITHUB_OUTPUT:-/dev/null}"
  exit "$code"
}

# Non-empty, trimmed lines of a multi-line input (`#` comments allowed).
lines() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%%#*}"
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    if [[ -n "$line" ]]; then printf '%s\n' "$line"; fi
  done <<<"${1:-}"
  return 0
}

is_true() {
  case "${1:-}" in
    true | True | TRUE | yes | 1) return 0 ;;
    false | False | FALSE | no | 0 | "") return 1 ;;
    *)
      echo "::error title=chaosgate action::not a boolean: '$1' (use true or false)"
      finish 2
      ;;
  esac
}

# --- the command line -------------------------------------------------------------------------
scenarios=()
while IFS= read -r line; do
  # Spaces separate files too (`scenarios: a.yaml b.yaml`); a path with spaces needs its own line.
  if [[ "$line" == *" "* && ! -e "$line" ]]; then
    read -r -a words <<<"$line"
    scenarios+=("${words[@]}")
  else
    scenarios+=("$line")
  fi
done < <(lines "${INPUT_SCENARIOS:-}")
if ((${#scenarios[@]} == 0)); then
  echo "::error title=chaosgate action::no scenario given (input 'scenarios')"
  finish 2
fi

args=()
baseline="$(lines "${INPUT_BASELINE:-}")"
candidate="$(lines "${INPUT_CANDIDATE:-}")"
if [[ -n "$baseline" || -n "$candidate" ]]; then
  if [[ -z "$baseline" || -z "$candidate" ]]; then
    echo "::error title=chaosgate action::'baseline' and 'candidate' go together: give both or neither"
    finish 2
  fi
  args+=(ab)
  ab=1
else
  args+=(run)
  ab=0
fi
args+=("${scenarios[@]}")
if ((ab)); then
  while IFS= read -r kv; do args+=(--baseline "$kv"); done <<<"$baseline"
  while IFS= read -r kv; do args+=(--candidate "$kv"); done <<<"$candidate"
fi
if [[ -n "${INPUT_SEED:-}" ]]; then
  args+=(--seed "$INPUT_SEED")
fi
while IFS= read -r kv; do
  args+=(--set "$kv")
done < <(lines "${INPUT_SET:-}")
if [[ -n "${INPUT_REPEAT:-}" && "${INPUT_REPEAT}" != "1" ]]; then
  args+=(--repeat "$INPUT_REPEAT")
fi
if is_true "${INPUT_FAIL_FAST:-false}"; then
  args+=(--fail-fast)
fi
args+=(--report-dir "$report_dir")

runner=()
if is_true "${INPUT_SUDO:-false}" && [[ "$(id -u)" != 0 ]]; then
  # shellcheck disable=SC2054 # one option whose value is a comma-separated list
  runner=(sudo --preserve-env=PATH,RUST_LOG,CI)
fi

if [[ "${GATE_PRINT_ARGS:-}" == 1 ]]; then
  printf '%s\n' "${runner[@]}" "$chaosgate" "${args[@]}"
  exit 0
fi

# --- the run ----------------------------------------------------------------------------------
mkdir -p "$report_dir"
# Run directories holding a report before the run: only the new ones are this step's. A run
# writes <report-dir>/<scenario>-<time>/report.json, `--repeat` and `ab` write gate.json there;
# deeper reports (runs nested inside a gate's directory) are the gate's, not annotated again.
report_files() {
  find "$report_dir" -mindepth 2 -maxdepth 2 \( -name report.json -o -name gate.json \) -print0
}
declare -A before=()
while IFS= read -r -d '' f; do before["$f"]=1; done < <(report_files)

echo "::group::chaosgate ${args[*]}"
code=0
"${runner[@]}" "$chaosgate" "${args[@]}" || code=$?
echo "::endgroup::"

while IFS= read -r -d '' f; do
  if [[ -z "${before[$f]:-}" ]]; then new_reports+=("$f"); fi
done < <(report_files | sort -z)

# --- step summary -----------------------------------------------------------------------------
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
for f in "${new_reports[@]}"; do
  md="$(dirname "$f")/summary.md"
  if [[ -f "$md" ]]; then
    cat "$md" >>"$summary"
    printf '\n' >>"$summary"
  fi
done

# --- annotations ------------------------------------------------------------------------------
if ((${#new_reports[@]} > 0)); then
  # An unreadable report is said, never fatal: the verdict is chaosgate's exit code.
  "$chaosgate" annotate "${new_reports[@]}" ||
    echo "::warning title=chaosgate action::could not annotate every report (see the log above)"
fi

finish "$code"

#!/usr/bin/env bash
# The action's run step: blip probes the URLs around the command and writes its reports into
# BLIP_REPORTS_DIR; blip's exit code is the step's (0 passed, 1 a gate failed, 2 bad usage or
# blip's own failure, 3 the command failed) and the step's output `exit-code`. blip appends its
# Markdown summary to GITHUB_STEP_SUMMARY itself.
#
# Environment: INPUT_URLS, INPUT_COMMAND, INPUT_ARGS, INPUT_REPORTS, INPUT_WORKING_DIRECTORY (the
# action's inputs), BLIP_REPORTS_DIR, BLIP (the binary; `blip` from PATH when empty), GITHUB_OUTPUT.
set -euo pipefail

fail() {
  echo "blip action: $*" >&2
  exit 2
}

BLIP=${BLIP:-blip}
command -v "$BLIP" >/dev/null || fail "no blip to run: '$BLIP' is not on PATH (the install step puts it there)"
REPORTS_DIR=${BLIP_REPORTS_DIR:?BLIP_REPORTS_DIR is not set: action.yml sets it}
mkdir -p "$REPORTS_DIR"
REPORTS_DIR=$(cd "$REPORTS_DIR" && pwd)

read -r -a urls <<<"$(printf '%s' "${INPUT_URLS:-}" | tr '\n' ' ')"
((${#urls[@]})) || fail "no URL to probe: give the urls input"

# The reports, each to a file of its own in the reports directory.
flags=()
read -r -a reports <<<"$(printf '%s' "${INPUT_REPORTS-json junit markdown html}" | tr ',\n' '  ')"
for report in "${reports[@]}"; do
  case "$report" in
    json) flags+=(--json "$REPORTS_DIR/blip.json") ;;
    junit) flags+=(--junit "$REPORTS_DIR/blip-junit.xml") ;;
    markdown) flags+=(--markdown "$REPORTS_DIR/blip.md") ;;
    html) flags+=(--html "$REPORTS_DIR/blip.html") ;;
    *) fail "unknown report '$report' in the reports input: give json, junit, markdown or html" ;;
  esac
done

# args are split as a shell splits words, quotes included, but nothing is expanded or run:
# xargs does the splitting.
args=()
if [ -n "${INPUT_ARGS:-}" ] && [ -n "${INPUT_ARGS//[[:space:]]/}" ]; then
  split=$(mktemp)
  trap 'rm -f "$split"' EXIT
  printf '%s' "$INPUT_ARGS" | xargs printf '%s\0' >"$split" 2>/dev/null ||
    fail "cannot split the args input into words: a quote is not closed"
  mapfile -d '' args <"$split"
fi

command=()
if [ -n "${INPUT_COMMAND:-}" ] && [ -n "${INPUT_COMMAND//[[:space:]]/}" ]; then
  command=(-- sh -c "$INPUT_COMMAND")
fi

if [ -n "${INPUT_WORKING_DIRECTORY:-}" ]; then
  cd "$INPUT_WORKING_DIRECTORY" 2>/dev/null ||
    fail "working-directory '$INPUT_WORKING_DIRECTORY' is not a directory"
fi

echo "reports-dir=$REPORTS_DIR" >>"${GITHUB_OUTPUT:-/dev/null}"
status=0
"$BLIP" "${flags[@]}" "${args[@]}" "${urls[@]}" "${command[@]}" || status=$?
echo "exit-code=$status" >>"${GITHUB_OUTPUT:-/dev/null}"
exit "$status"

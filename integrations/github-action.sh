#!/usr/bin/env bash
# The work of action.yml, runnable anywhere (tests/test_integrations.py runs it locally):
# one analysis writes the Markdown summary (appended to $GITHUB_STEP_SUMMARY) and the full
# report; the annotations and the SARIF come from the same answer, out of modeldiff's
# cache. Exits with the gate's code: 0 clean, 1 tripped, 2 error.
#
# Inputs (environment): INPUT_COMMAND (plan), INPUT_ARGS, INPUT_FAIL_ON, INPUT_SARIF;
# GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP as GitHub Actions sets them.
set -uo pipefail
command=${INPUT_COMMAND:-plan}
case "$command" in plan|diff|migrations) ;; *) echo "::error title=modeldiff::unknown command '$command' (plan, diff or migrations)"; exit 2 ;; esac
read -r -a args <<< "${INPUT_ARGS:-}"
gate=()
if [ -n "${INPUT_FAIL_ON:-}" ]; then gate=(--fail-on "$INPUT_FAIL_ON"); fi
out=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/modeldiff.XXXXXX")
output=${GITHUB_OUTPUT:-/dev/null}

modeldiff "$command" "${args[@]}" "${gate[@]}" --format summary -o "$out/summary.md" --report "$out/report.md"
code=$?
echo "exit-code=$code" >> "$output"
if [ "$code" -ge 2 ]; then
  echo "::error title=modeldiff::modeldiff $command failed (exit $code); the error is above"
  exit "$code"
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$out/summary.md" >> "$GITHUB_STEP_SUMMARY"; fi
echo "summary=$out/summary.md" >> "$output"
echo "report=$out/report.md" >> "$output"

modeldiff "$command" "${args[@]}" --format github || true
if [ -n "${INPUT_SARIF:-}" ]; then
  modeldiff "$command" "${args[@]}" --format sarif -o "$INPUT_SARIF" || true
  if [ -s "$INPUT_SARIF" ]; then echo "sarif=$INPUT_SARIF" >> "$output"; fi
fi
exit "$code"

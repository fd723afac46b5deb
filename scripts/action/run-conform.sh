#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/action/run-conform.sh - step 3 of action.yml: runs vsok-conform
# against VSOK_TARGET with the user's flags (VSOK_ARGS, split as the shell
# would: quotes work), writing junit.xml, report.html, report.json and
# conform.txt into VSOK_REPORT_DIR.  Always exits 0 so that the reports are
# uploaded; the step output exit-code (0 conformant, 1 FAIL/ERROR, or
# NON-STRICT with VSOK_STRICT=true, 2 could not start) decides the job in
# verdict.sh.
set -uo pipefail
: "${VSOK_TARGET:?}" "${VSOK_REPORT_DIR:?}" "${GITHUB_OUTPUT:?}"
bin=${VSOK_BIN:-$(dirname "$(command -v vsok-conform)")}
dir=$VSOK_REPORT_DIR
mkdir -p "$dir"
extra=()
if [ -n "${VSOK_ARGS:-}" ]; then
    mapfile -d '' extra < <(printf '%s' "$VSOK_ARGS" | xargs printf '%s\0') ||
        { echo "::error::cannot split args: $VSOK_ARGS"; echo "exit-code=2" >>"$GITHUB_OUTPUT"; exit 0; }
fi
args=(--target "$VSOK_TARGET" --junit "$dir/junit.xml" --html "$dir/report.html"
      --json "$dir/report.json" --artifacts "$dir/artifacts")
[ -n "${VSOK_LABEL:-}" ] && args+=(--label "$VSOK_LABEL")
case ${VSOK_STRICT:-false} in
true) args+=(--strict) ;;
false) ;;
*) echo "::error::strict must be true or false"; echo "exit-code=2" >>"$GITHUB_OUTPUT"; exit 0 ;;
esac
echo "vsok-conform ${args[*]} ${extra[*]}"
PATH="$bin:$PATH" "$bin/vsok-conform" "${args[@]}" "${extra[@]}" 2>&1 | tee "$dir/conform.txt"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^(CONFORMANT|NOT CONFORMANT|[A-Z -]+ +[0-9]+ cases)' "$dir/conform.txt" | head -n 1)
echo "exit-code=$rc" >>"$GITHUB_OUTPUT"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    {
        echo "### vsok-conform: $VSOK_TARGET"
        echo
        echo "${summary:-no summary line (exit status $rc)}"
        echo
        echo "Reports: artifact ${VSOK_ARTIFACT_NAME:-vsok-conformance} (junit.xml, report.html, report.json)."
    } >>"$GITHUB_STEP_SUMMARY"
fi
exit 0

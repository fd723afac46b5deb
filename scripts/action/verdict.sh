#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/action/verdict.sh - last step of action.yml: fails the job unless
# vsok-conform exited 0 (VSOK_EXIT_CODE, from run-conform.sh).
set -uo pipefail
rc=${VSOK_EXIT_CODE:-}
case $rc in
0) echo "vsok-conform: conformant"; exit 0 ;;
1) if [ "${VSOK_STRICT:-false}" = true ]; then
       echo "::error::vsok-conform: the IUT is not conformant (a case FAILed or had an ERROR, or was NON-STRICT with strict: true); see the reports"
   else
       echo "::error::vsok-conform: the IUT is not conformant (a case FAILed or had an ERROR); see the reports"
   fi
   exit 1 ;;
2) echo "::error::vsok-conform could not start (bad flags or target); see its output"; exit 1 ;;
'') echo "::error::vsok-conform did not run"; exit 1 ;;
*) echo "::error::vsok-conform exited with status $rc"; exit 1 ;;
esac

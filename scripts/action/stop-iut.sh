#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/action/stop-iut.sh - step 4 of action.yml (always runs): stops the
# IUT started by start-iut.sh - SIGTERM to its process group, SIGKILL after
# 10 seconds - and keeps its log in the report directory.
set -uo pipefail
pidfile=${RUNNER_TEMP:?}/vsok-action/iut.pid
[ -f "$pidfile" ] || { echo "no IUT to stop"; exit 0; }
pid=$(cat "$pidfile")
rm -f "$pidfile"
case $pid in '' | *[!0-9]*) echo "bad pid file"; exit 1 ;; esac
alive() { kill -0 "$pid" 2>/dev/null; }
alive || { echo "the IUT (pid $pid) had already exited"; exit 0; }
kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
for _ in $(seq 1 100); do # at most 10 s
    alive || { echo "IUT (pid $pid) stopped"; exit 0; }
    sleep 0.1
done
echo "IUT (pid $pid) ignored SIGTERM: SIGKILL"
kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
exit 0

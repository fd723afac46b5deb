#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/action/start-iut.sh - step 2 of action.yml: starts the user's IUT
# command (VSOK_IUT, run by bash in its own process group, output to
# REPORT_DIR/iut.log, the vsok tools on PATH) and waits until the target
# accepts connections: a unix: socket file appears, a tcp: port connects.
# Other targets (exec:, fd:, vsock:) are not probed.  Fails when the IUT
# exits or the target is not ready within VSOK_READY_TIMEOUT seconds.
set -euo pipefail
: "${RUNNER_TEMP:?}" "${VSOK_TARGET:?VSOK_TARGET not set}" "${VSOK_REPORT_DIR:?}"
state=$RUNNER_TEMP/vsok-action
mkdir -p "$state" "$VSOK_REPORT_DIR"
rm -f "$state/iut.pid"
if [ -z "${VSOK_IUT:-}" ]; then
    echo "no iut command: nothing to start (target $VSOK_TARGET)"
    exit 0
fi
timeout=${VSOK_READY_TIMEOUT:-30}
case $timeout in '' | *[!0-9]*) echo "::error::ready-timeout must be whole seconds"; exit 1 ;; esac
log=$VSOK_REPORT_DIR/iut.log
echo "starting the IUT: $VSOK_IUT"
PATH="${VSOK_BIN:+$VSOK_BIN:}$PATH" setsid bash -c "$VSOK_IUT" </dev/null >"$log" 2>&1 &
pid=$!
echo "$pid" >"$state/iut.pid"

probe() { # true when the target accepts connections
    case $VSOK_TARGET in
    unix:@*) python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect("\0"+sys.argv[1])' "${VSOK_TARGET#unix:@}" 2>/dev/null ;;
    unix:*) [ -S "${VSOK_TARGET#unix:}" ] ;;
    tcp:*)
        local hp=${VSOK_TARGET#tcp:} host port
        port=${hp##*:}; host=${hp%:*}; host=${host#[}; host=${host%]}
        timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null ;;
    *) return 0 ;;
    esac
}
deadline=$(( $(date +%s) + timeout ))
until probe; do
    if ! kill -0 "$pid" 2>/dev/null; then
        rc=0; wait "$pid" || rc=$?
        echo "::error::the IUT exited (status $rc) before $VSOK_TARGET was ready"
        tail -n 50 "$log"
        exit 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "::error::$VSOK_TARGET not ready after ${timeout}s"
        tail -n 50 "$log"
        exit 1
    fi
    sleep 0.2 # bounded readiness poll: the IUT gives no other signal
done
echo "IUT running (pid $pid), $VSOK_TARGET ready"
echo "pid=$pid" >>"$GITHUB_OUTPUT"

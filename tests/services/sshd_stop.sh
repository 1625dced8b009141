#!/usr/bin/env bash
# Stop the sshd started by sshd_start.sh in $SSHD_DIR, by its recorded pid only.
set -u
: "${SSHD_DIR:?set SSHD_DIR to the directory given to sshd_start.sh}"
PIDF="$SSHD_DIR/launcher.pid"
[ -f "$PIDF" ] || { echo "sshd not running (no $PIDF)"; exit 0; }
PID=$(cat "$PIDF")
if kill -0 "$PID" 2>/dev/null; then
  kill -TERM "$PID"   # the listener; sessions are its children and end with their clients
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$PID" 2>/dev/null && kill -KILL "$PID"
fi
rm -f "$PIDF"
echo "sshd stopped"

#!/usr/bin/env bash
# Stop the Keystone started by keystone_start.sh from $KEYSTONE_DIR: only the recorded PID.
DIR=${KEYSTONE_DIR:?KEYSTONE_DIR must name the server directory}
if [ -f "$DIR/keystone.pid" ]; then
  pid=$(cat "$DIR/keystone.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$DIR/keystone.pid"
fi
exit 0

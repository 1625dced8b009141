#!/usr/bin/env bash
# Stop everything swift_start.sh started, by recorded PIDs (parents kill their own workers).
# All are signalled first and then awaited together, so stopping costs the slowest, not the sum.
set -u
DIR=${SWIFT_DIR:-${TMPDIR:-/tmp}/freezer-services/swift}
pids=()
for name in proxy account container object memcached; do
  f="$DIR/run/$name.pid"; [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; pids+=("$pid"); fi
  rm -f "$f"
done
for i in $(seq 1 50); do
  alive=()
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  [ ${#alive[@]} -eq 0 ] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"; done
echo "swift stopped"

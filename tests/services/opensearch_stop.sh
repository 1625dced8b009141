#!/usr/bin/env bash
# Stop the OpenSearch started by opensearch_start.sh in OPENSEARCH_DIR (only that one, by its pid).
set -uo pipefail
DIR=${OPENSEARCH_DIR:?set OPENSEARCH_DIR}
[ -f "$DIR/opensearch.pid" ] || exit 0
PID=$(cat "$DIR/opensearch.pid")
if kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"
    for _ in $(seq 1 60); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$PID" 2>/dev/null && kill -KILL "$PID"
fi
rm -f "$DIR/opensearch.pid"

#!/usr/bin/env bash
# Stop the SeaweedFS started by s3_start.sh from $S3_DIR: only the recorded PID, then its gRPC sockets
# (weed creates /tmp/seaweedfs-<component>-grpc-<port>.sock whatever TMPDIR says).
DIR=${S3_DIR:?S3_DIR must name the server directory}
if [ -f "$DIR/weed.pid" ]; then
  pid=$(cat "$DIR/weed.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$DIR/weed.pid"
fi
if [ -f "$DIR/grpc.ports" ]; then
  for port in $(cat "$DIR/grpc.ports"); do rm -f /tmp/seaweedfs-*-grpc-"$port".sock; done
fi
exit 0

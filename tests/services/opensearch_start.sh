#!/usr/bin/env bash
# Start a throwaway single-node OpenSearch 2.19 on 127.0.0.1 for the tests.
#   OPENSEARCH_DIR         directory for data, logs, pid and env.sh (required)
#   OPENSEARCH_HTTP_PORT   HTTP port (default 29200)
#   OPENSEARCH_TRANSPORT_PORT  transport port (default 29300)
#   FREEZER_SERVICES_CACHE where the launcher is built (default ~/.cache/freezer-services)
# The node is the small Java launcher in opensearch-launcher/ (OpenSearch's own jars from
# Maven Central, run in-process): no distribution tarball is needed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/opensearch_elasticsearch_common.sh"
DIR=${OPENSEARCH_DIR:?set OPENSEARCH_DIR}
HTTP_PORT=${OPENSEARCH_HTTP_PORT:-29200}
TRANSPORT_PORT=${OPENSEARCH_TRANSPORT_PORT:-29300}
CACHE=${FREEZER_SERVICES_CACHE:-$HOME/.cache/freezer-services}/opensearch

BUILD=$(build_launcher "$HERE/opensearch-launcher" "$CACHE" \
    compile dependency:copy-dependencies -DoutputDirectory=target/lib -DincludeScope=runtime)

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
wait_for_node opensearch "http://127.0.0.1:$HTTP_PORT" "$DIR/opensearch.pid" "$DIR/opensearch.log"
cat >"$DIR/env.sh" <<ENV
export OPENSEARCH_URL=http://127.0.0.1:$HTTP_PORT
export OPENSEARCH_PID=$(cat "$DIR/opensearch.pid")
ENV

#!/usr/bin/env bash
# Start a throwaway single-node Elasticsearch (8.19 by default) on 127.0.0.1 for the tests.
#   ELASTICSEARCH_DIR             directory for data, logs, pid and env.sh (required)
#   ELASTICSEARCH_HTTP_PORT       HTTP port (default 29201)
#   ELASTICSEARCH_TRANSPORT_PORT  transport port (default 29301)
#   ELASTICSEARCH_VERSION         default 8.19.21 (runs on Java 17); a 9.x whose transport-netty4 module is on
#                                 Maven Central (9.5.3) needs Java 21 or newer, found under /usr/lib/jvm
#   FREEZER_SERVICES_CACHE        where the launcher is built (default ~/.cache/freezer-services)
# The node is the small Java launcher in elasticsearch-launcher/ (Elasticsearch's own jars from Maven Central,
# run in-process): no distribution tarball is needed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/opensearch_elasticsearch_common.sh"
DIR=${ELASTICSEARCH_DIR:?set ELASTICSEARCH_DIR}
HTTP_PORT=${ELASTICSEARCH_HTTP_PORT:-29201}
TRANSPORT_PORT=${ELASTICSEARCH_TRANSPORT_PORT:-29301}
VERSION=${ELASTICSEARCH_VERSION:-8.19.21}
CACHE=${FREEZER_SERVICES_CACHE:-$HOME/.cache/freezer-services}/elasticsearch-$VERSION

JAVA=java
RELEASE=17
if [ "${VERSION%%.*}" -ge 9 ]; then
    # Elasticsearch 9 is compiled for Java 21: take the first JDK of 21 or newer (Maven compiles with it too).
    RELEASE=21
    for home in /usr/lib/jvm/*; do
        [ -x "$home/bin/java" ] || continue
        major=$("$home/bin/java" -XshowSettings:properties -version 2>&1 |
            sed -n 's/^ *java.specification.version = //p' || true)
        if [ -n "$major" ] && [ "$major" -ge 21 ] 2>/dev/null; then export JAVA_HOME=$home; break; fi
    done
    [ -n "${JAVA_HOME:-}" ] || { echo "Elasticsearch $VERSION needs Java 21 or newer under /usr/lib/jvm" >&2; exit 1; }
    JAVA=$JAVA_HOME/bin/java
fi

BUILD=$(build_launcher "$HERE/elasticsearch-launcher" "$CACHE" -Des.version="$VERSION" \
    -Dmaven.compiler.release=$RELEASE compile dependency:copy-dependencies@server dependency:copy-dependencies@netty4)

mkdir -p "$DIR/home" "$DIR/tmp"
if [ -f "$DIR/elasticsearch.pid" ] && kill -0 "$(cat "$DIR/elasticsearch.pid")" 2>/dev/null; then
    echo "elasticsearch already running in $DIR" >&2
    exit 1
fi
# A small heap and the quick JIT tier: the machine has 2 cores and other servers run beside it.
ES_HOME="$DIR/home" ES_MODULES="$BUILD/target/modules" ES_HTTP_PORT=$HTTP_PORT ES_TRANSPORT_PORT=$TRANSPORT_PORT \
    nohup "$JAVA" -Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.io.tmpdir="$DIR/tmp" \
    -cp "$BUILD/target/classes:$BUILD/target/lib/*" ci.EmbeddedElasticsearch \
    >"$DIR/elasticsearch.log" 2>&1 </dev/null &
echo $! >"$DIR/elasticsearch.pid"
wait_for_node elasticsearch "http://127.0.0.1:$HTTP_PORT" "$DIR/elasticsearch.pid" "$DIR/elasticsearch.log"
cat >"$DIR/env.sh" <<ENV
export ELASTICSEARCH_URL=http://127.0.0.1:$HTTP_PORT
export ELASTICSEARCH_VERSION=$VERSION
export ELASTICSEARCH_PID=$(cat "$DIR/elasticsearch.pid")
ENV

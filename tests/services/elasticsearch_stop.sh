#!/usr/bin/env bash
# Stop the Elasticsearch started by elasticsearch_start.sh in ELASTICSEARCH_DIR (only that one, by its pid).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/opensearch_elasticsearch_common.sh"
stop_node "${ELASTICSEARCH_DIR:?set ELASTICSEARCH_DIR}/elasticsearch.pid"

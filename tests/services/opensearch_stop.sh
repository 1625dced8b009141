#!/usr/bin/env bash
# Stop the OpenSearch started by opensearch_start.sh in OPENSEARCH_DIR (only that one, by its pid).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/opensearch_elasticsearch_common.sh"
stop_node "${OPENSEARCH_DIR:?set OPENSEARCH_DIR}/opensearch.pid"

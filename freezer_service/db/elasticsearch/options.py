"""``[elasticsearch]`` options of freezer-api (upstream's names, plus ``client`` and ``refresh``).

Kept apart from the backend so that ``freezer_service.config`` can list them
(sample file, ``--config-file`` parsing) without importing a search client.
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

GROUP = "elasticsearch"

OPTS = [
    cfg.ListOpt("hosts", default=["http://127.0.0.1:9200"],
                help="Nodes of the Elasticsearch or OpenSearch cluster (URLs, or host:port)."),
    cfg.StrOpt("index", default="freezer",
               help="Prefix of the indices: one index per document type, <index>-backups, <index>-jobs, ..."),
    cfg.StrOpt("http_auth", secret=True, help="Basic authentication as user:password."),
    cfg.BoolOpt("use_ssl", default=False, help="Talk HTTPS to hosts given without a scheme."),
    cfg.BoolOpt("verify_certs", default=True, help="Verify the cluster's TLS certificate."),
    cfg.StrOpt("ca_certs", help="CA bundle that signed the cluster's certificate."),
    cfg.IntOpt("timeout", default=30, min=1, help="Seconds to wait for one request."),
    cfg.IntOpt("retries", default=3, min=0, help="Retries of a request on connection errors and timeouts."),
    cfg.IntOpt("number_of_replicas", default=0, min=0, help="Replicas of each index (set on index creation)."),
    cfg.StrOpt("client", default="auto", choices=["auto", "opensearch", "elasticsearch"],
               help="Python client: opensearch-py for OpenSearch, elasticsearch for Elasticsearch 8/9 (which "
                    "refuses other servers). auto takes opensearch-py when it is installed."),
    cfg.StrOpt("refresh", default="true", choices=["true", "wait_for"],
               help="Refresh policy of writes, so that a created document is listed by the next request: "
                    "true refreshes the shard at once (about 0.1 s a write; metadata writes are few); "
                    "wait_for waits for the next periodic refresh (up to the index's refresh_interval, 1 s) "
                    "and suits clusters with a high write rate."),
]


def from_conf(conf: Any) -> dict[str, Any]:
    """The backend's keyword arguments from a parsed configuration (registering the group if needed)."""
    try:
        group = getattr(conf, GROUP)
    except cfg.NoSuchOptError:
        conf.register_opts(OPTS, group=GROUP)
        group = getattr(conf, GROUP)
    return {opt.dest: getattr(group, opt.dest) for opt in OPTS}

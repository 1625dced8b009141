"""One REST code path over opensearch-py and the elasticsearch 8/9 client.

The backend speaks the REST API directly (``PUT /idx/_create/id``, ``POST
/idx/_search`` ...): the paths, parameters and bodies it uses are the same on
OpenSearch 2.x and Elasticsearch 8/9, whereas the two Python clients' typed
methods differ (``body=`` versus ``document=``, ``http_auth`` versus
``basic_auth``, error classes).  Only construction and error decoding depend
on the client library, and both live here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from freezer_core.errors import ConfigError, FreezerError

_HEADERS = {"content-type": "application/json", "accept": "application/json"}
#: Elasticsearch's REST compatibility media type for API version 8.  The elasticsearch 9 client would
#: otherwise ask for version 9, which an Elasticsearch 8 server refuses; version 8 is served by both
#: Elasticsearch 8 (its own) and 9 (compatibility), so either client talks to either server.
_ES_MEDIA = "application/vnd.elasticsearch+json; compatible-with=8"
_ES_HEADERS = {"content-type": _ES_MEDIA, "accept": _ES_MEDIA}
#: Connections kept per node: one per API thread (api_threads, 16 by default) and some to spare.
POOL = 32


class SearchError(FreezerError):
    """The cluster answered with an error status (``status`` and ``kind`` say which)."""

    http_status = 503

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(f"search cluster error {status} {kind}: {message}")
        self.status, self.kind = status, kind


def path(*parts: str) -> str:
    """A REST path with each part percent-encoded (document ids may hold '/', '%' or spaces)."""
    return "/" + "/".join(p if p.startswith("_") else quote(p, safe="") for p in parts)


class RestClient:
    """``request(method, path, params, body)`` on either client library."""

    def __init__(self, hosts: list[str], *, client: str = "auto", http_auth: str | None = None,
                 use_ssl: bool = False, verify_certs: bool = True, ca_certs: str | None = None,
                 timeout: int = 30, retries: int = 3) -> None:
        self.flavor = _pick(client)
        hosts = [h if "://" in h else f"{'https' if use_ssl else 'http'}://{h}" for h in hosts]
        auth = (http_auth.partition(":")[0], http_auth.partition(":")[2]) if http_auth else None
        if self.flavor == "opensearch":
            import opensearchpy

            self._errors: tuple[type[Exception], ...] = (opensearchpy.TransportError,)
            self._client: Any = opensearchpy.OpenSearch(
                hosts, http_auth=auth, verify_certs=verify_certs, ca_certs=ca_certs, timeout=timeout,
                max_retries=retries, retry_on_timeout=True, ssl_show_warn=verify_certs, pool_maxsize=POOL)
        else:
            import elasticsearch

            self._errors = (elasticsearch.ApiError, elasticsearch.TransportError)
            tls: dict[str, Any] = {"ca_certs": ca_certs} if ca_certs else {}
            self._client = elasticsearch.Elasticsearch(
                hosts, basic_auth=auth, verify_certs=verify_certs, request_timeout=timeout, max_retries=retries,
                retry_on_timeout=True, connections_per_node=POOL, **tls)

    def request(self, method: str, url: str, params: dict[str, Any] | None = None,
                body: Any = None) -> dict[str, Any]:
        params = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            if self.flavor == "opensearch":
                answer = self._client.transport.perform_request(method, url, params=params, body=body,
                                                                headers=_HEADERS)
            else:
                query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
                answer = self._client.perform_request(method, f"{url}?{query}" if query else url,
                                                      headers=_ES_HEADERS, body=body)
        except self._errors as exc:
            raise _decoded(exc) from exc
        answer = getattr(answer, "body", answer)
        return answer if isinstance(answer, dict) else {}

    def close(self) -> None:
        self._client.close()


def _pick(client: str) -> str:
    if client not in ("auto", "opensearch", "elasticsearch"):
        raise ConfigError(f"[elasticsearch] client must be auto, opensearch or elasticsearch, not {client!r}")
    for flavor, module in (("opensearch", "opensearchpy"), ("elasticsearch", "elasticsearch")):
        if client in ("auto", flavor):
            try:
                __import__(module)
            except ImportError:
                continue
            return flavor
    wanted = {"auto": "opensearch-py (or elasticsearch)", "opensearch": "opensearch-py"}.get(client, client)
    raise ConfigError(f"the elasticsearch metadata backend needs the {wanted} package: pip install {wanted.split()[0]}")


def _param(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _decoded(exc: Exception) -> SearchError:
    """Status, error type and reason of either library's exception."""
    status = getattr(exc, "status_code", None)
    meta = getattr(exc, "meta", None)
    if not isinstance(status, int):
        status = getattr(meta, "status", None) if meta is not None else None
    info: Any = getattr(exc, "info", None)
    if info is None:
        info = getattr(exc, "body", None)
    error = info.get("error") if isinstance(info, dict) else None
    kind = error.get("type", "") if isinstance(error, dict) else ""
    reason = error.get("reason", "") if isinstance(error, dict) else str(error or exc)
    return SearchError(status if isinstance(status, int) else 503, kind, reason)

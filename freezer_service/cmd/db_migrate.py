"""``freezer-api db-migrate --from SRC --to DST``: copy every document from one metadata backend to another.

A deployment that outgrows one SQL database moves to an Elasticsearch or
OpenSearch cluster (and back) with this command, while freezer-api is
stopped.  ``SRC`` and ``DST`` are each one of:

* a SQLAlchemy URL: ``sqlite:///path``, ``postgresql+psycopg://...``, ``mysql+pymysql://...``;
* ``sqlalchemy``: the ``[database] connection`` of the configuration files;
* ``elasticsearch``: the ``[elasticsearch]`` options of the configuration files;
* ``elasticsearch://[user:pass@]host:port[,host:port]/prefix`` (``opensearch://``, ``+https`` for TLS).

Every kind (backups, clients, actions, jobs, sessions) of every project is
copied in insertion order, with its project, id and central flag, so lists
page in the same order afterwards.  The destination's schema is created
first.  A document that already exists in the destination stops the copy,
unless ``--overwrite`` replaces it.  Versions restart at 1 (they count writes
within one store; clients re-read a document when a write based on an older
version is refused).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from freezer_core.errors import FreezerError, ValidationError
from freezer_service import config
from freezer_service.db import load_backend
from freezer_service.db.base import KINDS, Backend, DocumentExists

EVERYTHING = 2**62


def open_backend(target: str, conf: Any) -> Backend:
    """The backend named or addressed by ``target`` (see the module docstring)."""
    from freezer_service.db.elasticsearch.backend import URL_SCHEMES

    scheme = target.split("://", 1)[0] if "://" in target else ""
    if target == "elasticsearch" or scheme in URL_SCHEMES:
        return load_backend("elasticsearch", connection=target if scheme else None, conf=conf)
    if target == "sqlalchemy":
        return load_backend("sqlalchemy", connection=config.database_url(conf), conf=conf)
    if scheme:
        return load_backend("sqlalchemy", connection=target, conf=conf)
    raise ValidationError(f"db-migrate: {target!r} is neither a database URL, 'sqlalchemy' nor 'elasticsearch'")


def migrate(source: Backend, destination: Backend, *, overwrite: bool = False) -> dict[str, int]:
    """Copy every document; returns how many of each kind were written."""
    destination.upgrade()
    counts: dict[str, int] = {}
    for kind in KINDS:
        counts[kind] = 0
        for stored in source.list(kind, None, limit=EVERYTHING):
            try:
                destination.create(kind, stored.project_id, stored.doc_id, stored.doc, is_central=stored.is_central)
            except DocumentExists:
                if not overwrite:
                    raise DocumentExists(f"{kind[:-1]} {stored.doc_id} of project {stored.project_id} already "
                                         "exists in the destination (use --overwrite to replace it)") from None
                destination.put(kind, stored.project_id, stored.doc_id, stored.doc, is_central=stored.is_central)
            counts[kind] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="freezer-api db-migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True, help="source backend or URL")
    parser.add_argument("--to", dest="destination", required=True, help="destination backend or URL")
    parser.add_argument("--overwrite", action="store_true", help="replace documents already in the destination")
    parser.add_argument("--config-file", action="append", default=[], help="freezer-api.conf (repeatable)")
    parser.add_argument("--config-dir", action="append", default=[], help="directory of *.conf files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    oslo_args = [a for f in args.config_file for a in ("--config-file", f)]
    oslo_args += [a for d in args.config_dir for a in ("--config-dir", d)]
    source = destination = None
    try:
        conf = config.load(oslo_args)
        source = open_backend(args.source, conf)
        destination = open_backend(args.destination, conf)
        counts = migrate(source, destination, overwrite=args.overwrite)
    except FreezerError as exc:
        print(f"freezer-api db-migrate: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    finally:
        for backend in (source, destination):
            if backend is not None:
                backend.close()
    print(" ".join(f"{kind}={n}" for kind, n in counts.items()), f"total={sum(counts.values())}")

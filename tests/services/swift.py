"""The ``swift_server`` session fixture: a real OpenStack Swift all-in-one on 127.0.0.1.

memcached, the account, container and object servers and a proxy with
tempauth (``swift_start.sh``).  The account gets fresh random credentials and
every server a free port, so several test sessions on one machine never meet.
``env`` holds ``ST_AUTH``, ``ST_USER`` and ``ST_KEY``, exactly what the
``swift`` command line and Freezer's swift storage read.  Failing to start
fails the tests that need it; it is never a skip.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.services import Service, free_port, start_service


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@pytest.fixture(scope="session")
def swift_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Swift SAIO with tempauth; ``env`` holds ST_AUTH, ST_USER and ST_KEY."""
    directory = tmp_path_factory.mktemp("swift")
    proxy, obj, cont, acct, memcached = _free_ports(5)
    env = {
        "SWIFT_DIR": str(directory),
        "SWIFT_PROXY_PORT": str(proxy),
        "SWIFT_OBJECT_PORT": str(obj),
        "SWIFT_CONTAINER_PORT": str(cont),
        "SWIFT_ACCOUNT_PORT": str(acct),
        "SWIFT_MEMCACHED_PORT": str(memcached),
        "SWIFT_WORKERS": "0",  # one process per server: less memory on small machines
        # tempauth reads user_<account>_<user>: letters and digits only
        "SWIFT_USER": f"fz{secrets.token_hex(4)}:u{secrets.token_hex(4)}",
        "SWIFT_KEY": secrets.token_hex(16),
    }
    with start_service("swift", directory, env) as service:
        yield service

"""The session's OpenSSH server (SFTP) on 127.0.0.1, for the ssh storage tests.

Use the fixture by importing it into a conftest or test module::

    from tests.services.sshd import sshd_server  # noqa: F401

``sshd_server.env`` has ``SSH_TEST_HOST``, ``_PORT``, ``_USER``, ``_KEY``
(ed25519), ``_KEY_RSA``, ``_KEY_ECDSA``, ``_KNOWN_HOSTS`` and ``_ROOT`` (the
SFTP login directory; relative containers land there).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import Service, free_port, start_service


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    directory = tmp_path_factory.mktemp("sshd")
    env = {"SSHD_DIR": str(directory), "SSHD_PORT": str(free_port())}
    with start_service("sshd", directory, env) as service:
        yield service

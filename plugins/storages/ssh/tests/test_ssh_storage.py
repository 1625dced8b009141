"""The ssh storage against a real OpenSSH server on 127.0.0.1 (tests/services/sshd_start.sh)."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from freezer_storage_ssh import SshStorage

from freezer_core.errors import FreezerError, PermissionDenied, TransientStorageError, ValidationError
from freezer_core.storage_wrappers import RetryingStorage
from freezer_core.testing.storage import StorageTests
from tests.services import Service, free_port


def ssh_options(server: Service, **overrides: Any) -> dict[str, Any]:
    env = server.env
    options = {"ssh_host": env["SSH_TEST_HOST"], "ssh_port": int(env["SSH_TEST_PORT"]),
               "ssh_username": env["SSH_TEST_USER"], "ssh_key": env["SSH_TEST_KEY"],
               "ssh_known_hosts": env["SSH_TEST_KNOWN_HOSTS"]}
    return options | overrides


def root_of(server: Service) -> Path:
    return Path(server.env["SSH_TEST_ROOT"])


@pytest.fixture
def container() -> str:
    """A fresh directory name, relative to the SFTP login directory."""
    return f"c-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def ssh_storage(sshd_server: Service, container: str) -> Iterator[SshStorage]:
    store = SshStorage(container, ssh_options(sshd_server))
    yield store
    store.close()


class TestSshStorage(StorageTests):
    @pytest.fixture
    def storage(self, ssh_storage: SshStorage) -> SshStorage:
        return ssh_storage


def _refusal(server: Service, **overrides: Any) -> FreezerError:
    store = SshStorage("refused", ssh_options(server, **overrides))
    try:
        with pytest.raises(FreezerError) as info:
            store.put("x", b"1")
    finally:
        store.close()
    err = info.value
    assert "\n" not in str(err)
    return err


def test_unknown_host_key_is_refused_with_how_to_trust_it(sshd_server: Service, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    port = sshd_server.env["SSH_TEST_PORT"]
    for known_hosts in (empty, tmp_path / "missing_known_hosts"):
        err = _refusal(sshd_server, ssh_known_hosts=str(known_hosts))
        assert isinstance(err, PermissionDenied)
        assert f"ssh-keyscan -p {port} 127.0.0.1 >> {known_hosts}" in str(err)
        assert SshStorage("x", ssh_options(sshd_server)).is_permanent(err)
    assert not (root_of(sshd_server) / "refused").exists()


def test_changed_host_key_is_refused(sshd_server: Service, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd_server.env['SSH_TEST_PORT']} {(tmp_path / 'other.pub').read_text()}")
    err = _refusal(sshd_server, ssh_known_hosts=str(known_hosts))
    assert isinstance(err, PermissionDenied)
    assert "does not match" in str(err) and "ssh-keygen -R" in str(err)


def test_wrong_key_is_permission_denied(sshd_server: Service, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "stranger")], check=True)
    err = _refusal(sshd_server, ssh_key=str(tmp_path / "stranger"))
    assert isinstance(err, PermissionDenied)
    assert "refused user" in str(err) and "authorized_keys" in str(err)


def test_password_is_refused_when_the_server_wants_keys(sshd_server: Service, tmp_path: Path) -> None:
    err = _refusal(sshd_server, ssh_key=str(tmp_path / "no-key"), ssh_password="not-it")
    assert isinstance(err, PermissionDenied)
    assert "not-it" not in str(err)


def test_missing_key_says_which_option(sshd_server: Service, tmp_path: Path) -> None:
    err = _refusal(sshd_server, ssh_key=str(tmp_path / "no-key"))
    assert isinstance(err, ValidationError)
    assert "--ssh-key" in str(err)


def test_unreachable_server_names_host_and_port(sshd_server: Service) -> None:
    port = free_port()
    err = _refusal(sshd_server, ssh_port=port)
    assert isinstance(err, TransientStorageError)
    assert f"127.0.0.1:{port}" in str(err)


def test_host_is_required() -> None:
    with pytest.raises(ValidationError, match="--ssh-host"):
        SshStorage("c", {})


@pytest.mark.parametrize("key", ["SSH_TEST_KEY_RSA", "SSH_TEST_KEY_ECDSA"])
def test_rsa_and_ecdsa_keys(sshd_server: Service, container: str, key: str) -> None:
    store = SshStorage(container, ssh_options(sshd_server, ssh_key=sshd_server.env[key]))
    try:
        store.put("k", b"key type ok")
        assert store.get("k") == b"key type ok"
    finally:
        store.close()


def test_absolute_container_is_created_with_parents(sshd_server: Service, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "backups"
    store = SshStorage(str(target), ssh_options(sshd_server))
    try:
        assert store.list("") == []
        store.put("metadata/tar/h_n/1/0_1/metadata", b"{}")
        assert (target / "metadata/tar/h_n/1/0_1/metadata").read_bytes() == b"{}"
        assert (target / "metadata/tar/h_n/1/0_1/metadata").stat().st_mode & 0o077 == 0
        assert store.describe() == f"ssh:{sshd_server.env['SSH_TEST_USER']}@127.0.0.1:" \
                                   f"{sshd_server.env['SSH_TEST_PORT']}:{target}"
    finally:
        store.close()


def test_relative_container_is_under_the_login_directory(sshd_server: Service, ssh_storage: SshStorage,
                                                         container: str) -> None:
    ssh_storage.put("a/b", b"here")
    assert (root_of(sshd_server) / container / "a/b").read_bytes() == b"here"


def test_many_parts_in_parallel_through_the_channel_pool(sshd_server: Service, ssh_storage: SshStorage,
                                                         container: str) -> None:
    """More writers than channels, parts of several SFTP requests each, out of order."""
    data = os.urandom(3 * 1024 * 1024 + 12345)
    part = 200_000
    pieces = [(i, off, data[off:off + part]) for i, off in enumerate(range(0, len(data), part))]
    upload = ssh_storage.open_upload("big/data")
    assert ssh_storage.list("big") == []  # the hidden part file is not listed
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda p: upload.write_part(*p), reversed(pieces)))
    upload.complete()
    assert ssh_storage.get("big/data") == data
    assert ssh_storage.get("big/data", 1_000_000, 500_000) == data[1_000_000:1_500_000]
    stored = root_of(sshd_server) / container / "big"
    assert [p.name for p in stored.iterdir()] == ["data"]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        reads = list(pool.map(lambda p: ssh_storage.get("big/data", p[1], len(p[2])), pieces))
    assert b"".join(reads) == data


def test_delete_prunes_empty_directories(sshd_server: Service, ssh_storage: SshStorage, container: str) -> None:
    ssh_storage.put("data/tar/h_n/1/0_1/data", b"x")
    ssh_storage.put("data/tar/h_n/2/0_2/data", b"y")
    ssh_storage.delete("data/tar/h_n/1")
    assert ssh_storage.list("data/tar/h_n") == ["2"]
    ssh_storage.delete("data/tar/h_n/2/0_2/data")
    assert not (root_of(sshd_server) / container / "data").exists()
    assert (root_of(sshd_server) / container).is_dir()
    ssh_storage.put("data/tar/h_n/3/0_3/data", b"z")  # directories it had made are made again
    assert ssh_storage.get("data/tar/h_n/3/0_3/data") == b"z"


def test_reconnects_after_a_dropped_connection(ssh_storage: SshStorage) -> None:
    ssh_storage.put("r/obj", b"before")
    transport = ssh_storage._pool.transport()
    assert transport is not None
    transport.sock.shutdown(socket.SHUT_RDWR)  # as if the network or the server cut us off
    # As the core drives every storage: a drop noticed mid-call is a transient error, and a later
    # attempt (after a short backoff) reconnects.
    retrying = RetryingStorage(ssh_storage, attempts=6, base_delay=0.2, max_delay=1.0)
    assert retrying.get("r/obj") == b"before"
    assert ssh_storage._pool.transport() is not transport


def test_is_permanent_tells_drops_from_refusals(ssh_storage: SshStorage) -> None:
    import paramiko

    assert not ssh_storage.is_permanent(EOFError())
    assert not ssh_storage.is_permanent(TimeoutError())
    assert not ssh_storage.is_permanent(paramiko.SSHException("Server connection dropped: "))
    assert not ssh_storage.is_permanent(OSError("Socket is closed"))
    assert ssh_storage.is_permanent(paramiko.AuthenticationException("no"))
    assert ssh_storage.is_permanent(PermissionDenied("no"))
    assert ssh_storage.is_permanent(FileNotFoundError(2, "gone"))

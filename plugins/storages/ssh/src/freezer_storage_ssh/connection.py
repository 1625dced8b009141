"""SSH connections for the ssh storage: strict host keys, clear auth errors, a pool of SFTP channels.

Three things matter here and nowhere else in the plugin:

* **Host keys are verified.**  The server's key must already be in a
  known_hosts file; an unknown or changed key is refused with one line telling
  the user how to trust it.  Accepting any key would let whoever sits on the
  network path receive every backup.
* **One SFTP channel is used by one thread at a time.**  paramiko's
  ``SFTPClient`` is not safe for concurrent requests, but many channels may
  share one SSH transport, so the pool hands out up to ``size`` channels.
* **A dropped connection heals.**  An error that means the transport is gone
  discards it; the next checkout connects again, so the core's retry of a
  transient failure simply works.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko

from freezer_core.errors import (
    FreezerError,
    ObjectNotFound,
    PermissionDenied,
    StorageError,
    TransientStorageError,
    ValidationError,
)

CONNECT_TIMEOUT = 30.0
"""Seconds to wait for TCP, the SSH banner and authentication."""
KEEPALIVE = 30
"""Seconds between keepalives, so idle NAT and firewalls keep the connection open."""


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect; ``password`` is never shown in messages."""

    host: str
    port: int
    username: str
    key_file: Path
    password: str | None
    known_hosts: Path
    timeout: float

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        """How OpenSSH names this host in known_hosts (``[host]:port`` off port 22)."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def is_transient(exc: BaseException) -> bool:
    """True for errors that mean the connection broke, where trying again may help.

    Authentication and host-key failures are ``SSHException`` subclasses too,
    but retrying them only repeats the refusal (and may lock the account).
    """
    if isinstance(exc, TransientStorageError):
        return True
    if isinstance(exc, FreezerError):
        return False
    if isinstance(exc, (paramiko.AuthenticationException, paramiko.BadHostKeyException)):
        return False
    if isinstance(exc, paramiko.SSHException):
        return "not found in known_hosts" not in str(exc)
    if isinstance(exc, (EOFError, TimeoutError, ConnectionError)):
        return True
    # paramiko raises a bare socket.error("Socket is closed") once a channel is gone.
    return isinstance(exc, OSError) and exc.errno is None and "closed" in str(exc).lower()


def translate(exc: BaseException, what: str, where: str) -> FreezerError:
    """Turn an SFTP/SSH/socket error into a Freezer error that says what to do."""
    if isinstance(exc, FreezerError):
        return exc
    if is_transient(exc):
        return TransientStorageError(f"connection to {where} lost while accessing {what}: "
                                     f"{exc or type(exc).__name__}; it is retried on the next attempt")
    if isinstance(exc, OSError) and exc.errno == errno.ENOENT:
        return ObjectNotFound(f"{what} does not exist on {where}")
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(f"permission denied on {what} on {where}: check the remote directory's owner "
                                f"and mode for the ssh user")
    return StorageError(f"cannot access {what} on {where}: {exc or type(exc).__name__}")


def load_key(path: Path) -> paramiko.PKey:
    """The user's private key (RSA, ECDSA or Ed25519), with errors that say what to do."""
    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        raise ValidationError(f"ssh key {path} does not exist: give the private key with --ssh-key, "
                              f"or a password with --ssh-password") from None
    except PermissionError:
        raise PermissionDenied(f"cannot read ssh key {path}: check its owner and mode") from None
    except paramiko.PasswordRequiredException:
        raise ValidationError(f"ssh key {path} is protected by a passphrase: use a key without one for "
                              f"unattended backups, or --ssh-password") from None
    except (paramiko.SSHException, ValueError, OSError) as exc:
        raise ValidationError(f"ssh key {path} cannot be loaded ({exc}): give an RSA, ECDSA or Ed25519 "
                              f"private key with --ssh-key") from None


def connect(ep: Endpoint) -> paramiko.SSHClient:
    """Open an authenticated SSH connection, refusing hosts whose key is not known."""
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(str(ep.known_hosts))
    except FileNotFoundError:
        pass  # no known hosts yet: every host is unknown, and the message says how to add it
    except (OSError, paramiko.SSHException) as exc:
        raise ValidationError(f"cannot read known hosts file {ep.known_hosts} ({exc}): "
                              f"fix it or point --ssh-known-hosts at another one") from None
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    pkey = None
    if ep.password is None or ep.key_file.exists():
        pkey = load_key(ep.key_file)
    try:
        client.connect(ep.host, port=ep.port, username=ep.username, pkey=pkey, password=ep.password,
                       look_for_keys=False, allow_agent=False, timeout=CONNECT_TIMEOUT,
                       banner_timeout=CONNECT_TIMEOUT, auth_timeout=CONNECT_TIMEOUT)
    except BaseException as exc:
        client.close()
        raise _connect_error(exc, ep) from None
    transport = client.get_transport()
    if transport is not None:
        transport.set_keepalive(KEEPALIVE)
    return client


def _connect_error(exc: BaseException, ep: Endpoint) -> BaseException:
    if isinstance(exc, paramiko.BadHostKeyException):
        return PermissionDenied(
            f"the host key of {ep.address} does not match {ep.known_hosts}: if the server's key was changed "
            f"on purpose, remove the old one with `ssh-keygen -R '{ep.known_hosts_name}' -f {ep.known_hosts}`")
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        return PermissionDenied(
            f"the host key of {ep.address} is unknown (not in {ep.known_hosts}): check the server's fingerprint, "
            f"then trust it with `ssh-keyscan -p {ep.port} {ep.host} >> {ep.known_hosts}`")
    if isinstance(exc, paramiko.AuthenticationException):
        how = "password" if ep.password is not None else f"key {ep.key_file}"
        return PermissionDenied(
            f"{ep.address} refused user {ep.username!r} with {how}: check --ssh-username and --ssh-key "
            f"(its public key must be in the user's authorized_keys) or --ssh-password")
    if isinstance(exc, socket.gaierror):
        return StorageError(f"cannot resolve ssh host {ep.host!r}: check --ssh-host")
    if isinstance(exc, (OSError, EOFError, paramiko.SSHException)):
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return TransientStorageError(f"cannot reach ssh server {ep.address} ({reason}): check --ssh-host, "
                                     f"--ssh-port and that sshd is running")
    return exc


class ChannelPool:
    """Up to ``size`` SFTP channels over one SSH transport, each used by one thread at a time."""

    def __init__(self, endpoint: Endpoint, size: int) -> None:
        self.endpoint = endpoint
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._client: paramiko.SSHClient | None = None
        self._generation = 0
        self._idle: list[tuple[int, paramiko.SFTPClient]] = []
        self.home: str | None = None
        """The login directory, where relative containers start."""

    def _transport_alive(self) -> bool:
        transport = self._client.get_transport() if self._client else None
        return transport is not None and transport.is_active()

    def _open_channel(self) -> tuple[int, paramiko.SFTPClient]:
        """A fresh SFTP channel, connecting first when there is no live transport (lock held)."""
        if not self._transport_alive():
            self._drop_locked()
            self._client = connect(self.endpoint)
            self._generation += 1
        assert self._client is not None
        sftp = self._client.open_sftp()
        sftp.get_channel().settimeout(self.endpoint.timeout)  # a hung server fails instead of hanging
        if self.home is None:
            self.home = sftp.normalize(".")
        return self._generation, sftp

    @contextmanager
    def channel(self, what: str) -> Iterator[paramiko.SFTPClient]:
        """Lend a channel; a connection error discards it so the next call reconnects.

        Every error leaving here is a :class:`FreezerError` (``what`` names the
        object for messages).
        """
        self._slots.acquire()
        entry = None
        try:
            with self._lock:
                while self._idle and entry is None:
                    gen, sftp = self._idle.pop()
                    if gen == self._generation and self._transport_alive():
                        entry = (gen, sftp)
                    else:
                        _quietly_close(sftp)
                if entry is None:
                    try:
                        entry = self._open_channel()
                    except BaseException as exc:
                        raise translate(exc, what, self.endpoint.address) from None
            try:
                yield entry[1]
            except Exception as exc:
                if is_transient(exc) or not self._transport_alive():
                    # The channel may hold unanswered requests: never lend it again.  A dead
                    # transport is replaced by the next checkout.
                    _quietly_close(entry[1])
                    entry = None
                    exc_out = translate(_as_transient(exc), what, self.endpoint.address)
                else:
                    exc_out = translate(exc, what, self.endpoint.address)
                if exc_out is exc:
                    raise
                raise exc_out from exc
            except BaseException:
                _quietly_close(entry[1])  # interrupted mid-request: its replies would confuse the next user
                entry = None
                raise
        finally:
            if entry is not None:
                with self._lock:
                    self._idle.append(entry)
            self._slots.release()

    def drop(self) -> None:
        """Forget the transport and every idle channel."""
        with self._lock:
            self._drop_locked()

    def _drop_locked(self) -> None:
        for _, sftp in self._idle:
            _quietly_close(sftp)
        self._idle.clear()
        if self._client is not None:
            self._client.close()
            self._client = None

    def transport(self) -> paramiko.Transport | None:
        """The live transport, if any (tests use it to simulate a dropped connection)."""
        return self._client.get_transport() if self._client else None

    def close(self) -> None:
        self.drop()


def _as_transient(exc: BaseException) -> BaseException:
    """An error seen while the transport died is a connection loss, whatever its type."""
    if is_transient(exc) or isinstance(exc, FreezerError):
        return exc
    return EOFError(str(exc) or type(exc).__name__)


def _quietly_close(sftp: paramiko.SFTPClient) -> None:
    try:
        sftp.close()
    except Exception:  # closing a dead channel may raise anything; it is gone either way
        pass

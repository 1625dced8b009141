"""SSH storage: the container is a directory on a remote host, reached over SFTP.

Objects are files under the container directory, laid out exactly as
upstream Freezer and our local storage lay them out, so a backup copied
between a disk and an SSH host restores the same.  Every object is written to
a hidden ``.NAME.<uuid>.part`` file and renamed into place when complete: a
crashed or cut-off backup leaves nothing that a listing or restore picks up.

Unlike upstream Freezer, the server's host key must be known beforehand
(``--ssh-known-hosts``): a backup is never sent to a host merely claiming to be
the right one.
"""

from __future__ import annotations

import getpass
import os
import posixpath
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import paramiko
from paramiko.sftp import CMD_EXTENDED

from freezer_core.contract import ObjectInfo, Options, Storage, StorageProperties, Upload
from freezer_core.errors import ObjectNotFound, StorageError, ValidationError
from freezer_storage_ssh.connection import ChannelPool, Endpoint, is_transient

__all__ = ["SshStorage"]

PART_SUFFIX = ".part"
CONNECTIONS = 4
"""SFTP channels used at once (OpenSSH allows 10 sessions per connection by default)."""
SMALL_READ = 32768
"""Reads up to this size are one request; larger ones are pipelined (readv)."""


class SshStorage(Storage):
    name = "ssh"

    def __init__(self, container: str, options: Options) -> None:
        super().__init__(container, options)
        host = options.get("ssh_host")
        if not host:
            raise ValidationError("the ssh storage needs a server: give --ssh-host")
        if not container:
            raise ValidationError("the ssh storage needs a remote directory: give --container")
        try:
            port = int(options.get("ssh_port") or 22)
            timeout = float(options.get("timeout") or 120)
        except (TypeError, ValueError):
            raise ValidationError("--ssh-port and --timeout must be numbers") from None
        self.endpoint = Endpoint(
            host=str(host), port=port,
            username=str(options.get("ssh_username") or getpass.getuser()),
            key_file=Path(os.path.expanduser(options.get("ssh_key") or "~/.ssh/id_rsa")),
            password=options.get("ssh_password") or None,
            known_hosts=Path(os.path.expanduser(options.get("ssh_known_hosts") or "~/.ssh/known_hosts")),
            timeout=timeout,
        )
        self._pool = ChannelPool(self.endpoint, CONNECTIONS)
        self._dirs: set[str] = set()
        """Remote directories known to exist, to save a round trip per write."""
        self._dirs_lock = threading.Lock()
        self._posix_rename = True
        self._fsync = True

    # ------------------------------------------------------------- paths

    @property
    def root(self) -> str:
        """The container's absolute remote path (known once connected: relative ones start at the login dir)."""
        container = self.container[2:] if self.container.startswith("~/") else self.container
        if container.startswith("/"):
            return posixpath.normpath(container)
        return posixpath.normpath(posixpath.join(self._pool.home or ".", container))

    def _abs(self, name: str) -> str:
        parts = [p for p in name.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise StorageError(f"invalid object name {name!r}")
        return posixpath.join(self.root, *parts)

    def _rel(self, path: str) -> str:
        return posixpath.relpath(path, self.root)

    # ------------------------------------------------------------- writing

    def put(self, name: str, data: bytes) -> None:
        with self._pool.channel(name) as sftp:
            path = self._abs(name)
            tmp = _temp_name(path)
            try:
                with self._create(sftp, tmp) as f:
                    _write_checked(f, data)
                    self._sync(sftp, f)
                self._rename(sftp, tmp, path)
            except BaseException:
                _remove_quietly(sftp, tmp)
                raise

    def open_upload(self, name: str) -> Upload:
        return _SshUpload(self, name)

    def _create(self, sftp: paramiko.SFTPClient, path: str) -> paramiko.SFTPFile:
        """Create (truncate) a private file, making its directories as needed (mkdir -p)."""
        directory = posixpath.dirname(path)
        self._makedirs(sftp, directory)
        try:
            f = sftp.open(path, "wb")
        except FileNotFoundError:
            # Our idea of which directories exist is stale: a delete elsewhere pruned one.
            self._forget_dirs()
            self._makedirs(sftp, directory)
            f = sftp.open(path, "wb")
        f.chmod(0o600)  # backup data may hold secrets even when it is not encrypted
        return f

    def _makedirs(self, sftp: paramiko.SFTPClient, directory: str) -> None:
        if directory in self._dirs or directory in ("", "/"):
            return
        try:
            st = sftp.stat(directory)
        except FileNotFoundError:
            self._makedirs(sftp, posixpath.dirname(directory))
            try:
                sftp.mkdir(directory)
            except OSError:
                st = sftp.stat(directory)  # another writer made it first; anything else raises here
                if not stat.S_ISDIR(st.st_mode or 0):
                    raise
        else:
            if not stat.S_ISDIR(st.st_mode or 0):
                raise StorageError(f"{directory} on {self.endpoint.address} is a file, not a directory: "
                                   f"choose another --container")
        with self._dirs_lock:
            self._dirs.add(directory)

    def _forget_dirs(self) -> None:
        with self._dirs_lock:
            self._dirs.clear()

    def _rename(self, sftp: paramiko.SFTPClient, src: str, dst: str) -> None:
        """Move ``src`` over ``dst`` atomically when the server has posix-rename (OpenSSH has)."""
        if self._posix_rename:
            try:
                sftp.posix_rename(src, dst)
                return
            except OSError as exc:
                if exc.errno is not None or "unsupported" not in str(exc).lower():
                    raise
                self._posix_rename = False
        # Plain SFTP rename refuses to replace: the old object is briefly absent.
        try:
            sftp.remove(dst)
        except FileNotFoundError:
            pass
        sftp.rename(src, dst)

    def _sync(self, sftp: paramiko.SFTPClient, f: paramiko.SFTPFile) -> None:
        """Flush the file to the server's disk before it is renamed into place (fsync@openssh.com).

        Without it a server crash right after the rename may leave an empty object.
        Servers without the extension are skipped silently.
        """
        if not self._fsync:
            return
        try:
            sftp._request(CMD_EXTENDED, "fsync@openssh.com", f.handle)
        except OSError as exc:
            if exc.errno is not None or "unsupported" not in str(exc).lower():
                raise
            self._fsync = False

    # ------------------------------------------------------------- reading

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        with self._pool.channel(name) as sftp:
            path = self._abs(name)
            with sftp.open(path, "rb") as f:
                st = f.stat()
                if stat.S_ISDIR(st.st_mode or 0):
                    raise ObjectNotFound(f"{name} is a directory on {self.describe()}, not a stored object")
                size = st.st_size or 0
                start = min(offset, size)
                end = size if length is None else min(size, offset + length)
                if end <= start:
                    return b""
                if end - start <= SMALL_READ:
                    f.seek(start)
                    return bytes(f.read(end - start))
                return b"".join(f.readv([(start, end - start)]))

    def size(self, name: str) -> int | None:
        with self._pool.channel(name) as sftp:
            try:
                st = sftp.stat(self._abs(name))
            except FileNotFoundError:
                return None
            return None if stat.S_ISDIR(st.st_mode or 0) else int(st.st_size or 0)

    def list(self, prefix: str) -> list[str]:
        with self._pool.channel(prefix or self.container) as sftp:
            try:
                names = sftp.listdir(self._abs(prefix))
            except FileNotFoundError:
                return []
            return sorted(n for n in names if not n.endswith(PART_SUFFIX))

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Collected with one channel and yielded afterwards: a caller reading objects
        # while walking must not find the pool exhausted by its own walk.
        with self._pool.channel(prefix or self.container) as sftp:
            base = self._abs(prefix)
            try:
                st = sftp.stat(base)
            except FileNotFoundError:
                return
            if not stat.S_ISDIR(st.st_mode or 0):
                found = [ObjectInfo(self._rel(base), int(st.st_size or 0))]
            else:
                found = list(self._scan(sftp, base))
        yield from found

    def _scan(self, sftp: paramiko.SFTPClient, directory: str) -> Iterator[ObjectInfo]:
        try:
            entries = sorted(sftp.listdir_attr(directory), key=lambda a: a.filename)
        except FileNotFoundError:
            return  # removed while we walked
        for attr in entries:
            path = posixpath.join(directory, attr.filename)
            if stat.S_ISDIR(attr.st_mode or 0):
                yield from self._scan(sftp, path)
            elif stat.S_ISREG(attr.st_mode or 0) and not attr.filename.endswith(PART_SUFFIX):
                yield ObjectInfo(self._rel(path), int(attr.st_size or 0))

    # ------------------------------------------------------------- removing

    def delete(self, name: str) -> None:
        with self._pool.channel(name) as sftp:
            path = self._abs(name)
            try:
                st = sftp.lstat(path)
            except FileNotFoundError:
                return
            self._forget_dirs()
            if stat.S_ISDIR(st.st_mode or 0):
                self._rmtree(sftp, path)
            else:
                _remove_quietly(sftp, path, only_missing=True)
            self._prune_empty_parents(sftp, posixpath.dirname(path))

    def _rmtree(self, sftp: paramiko.SFTPClient, directory: str) -> None:
        try:
            entries = sftp.listdir_attr(directory)
        except FileNotFoundError:
            return
        for attr in entries:
            path = posixpath.join(directory, attr.filename)
            if stat.S_ISDIR(attr.st_mode or 0):
                self._rmtree(sftp, path)
            else:
                _remove_quietly(sftp, path, only_missing=True)
        try:
            sftp.rmdir(directory)
        except FileNotFoundError:
            pass

    def _prune_empty_parents(self, sftp: paramiko.SFTPClient, directory: str) -> None:
        """Remove directories left empty by a deletion, up to (not including) the container."""
        root = self.root
        while directory != root and directory.startswith(root.rstrip("/") + "/"):
            try:
                sftp.rmdir(directory)  # fails when not empty: that is where pruning stops
            except OSError as exc:
                if is_transient(exc):
                    raise
                return
            directory = posixpath.dirname(directory)

    # ------------------------------------------------------------- behaviour

    def properties(self) -> StorageProperties:
        return StorageProperties(connections=CONNECTIONS)

    def is_permanent(self, exc: BaseException) -> bool:
        """Connection drops and timeouts are worth retrying (we reconnect); refusals are not."""
        return not is_transient(exc)

    def describe(self) -> str:
        ep = self.endpoint
        return f"ssh:{ep.username}@{ep.host}:{ep.port}:{self.container}"

    def close(self) -> None:
        self._pool.close()


class _SshUpload(Upload):
    """Parts are written at their offsets into a hidden remote file, renamed on completion."""

    def __init__(self, storage: SshStorage, name: str) -> None:
        self.storage = storage
        self.name = name
        with storage._pool.channel(name) as sftp:
            self.path = storage._abs(name)
            self.tmp = _temp_name(self.path)
            storage._create(sftp, self.tmp).close()

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        with self.storage._pool.channel(self.name) as sftp, sftp.open(self.tmp, "r+b") as f:
            f.seek(offset)
            _write_checked(f, data)

    def complete(self) -> None:
        with self.storage._pool.channel(self.name) as sftp:
            with sftp.open(self.tmp, "r+b") as f:
                self.storage._sync(sftp, f)
            self.storage._rename(sftp, self.tmp, self.path)

    def abort(self) -> None:
        with self.storage._pool.channel(self.name) as sftp:
            _remove_quietly(sftp, self.tmp, only_missing=True)


def _temp_name(path: str) -> str:
    return posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.{uuid.uuid4().hex}{PART_SUFFIX}")


def _write_checked(f: paramiko.SFTPFile, data: bytes) -> None:
    """Write with pipelined requests, then wait for every reply and raise on a failed one.

    paramiko's pipelined mode (what makes SFTP fast over a real network) drops
    the servers' replies to writes, so a failed write (a full disk) would go
    unnoticed; the replies are collected here instead.
    """
    f.set_pipelined(True)
    f.write(data)
    f.flush()
    pending = getattr(f, "_reqs", None)
    while pending:
        f.sftp._read_response(pending.popleft())  # raises IOError for an error status
    f.set_pipelined(False)


def _remove_quietly(sftp: paramiko.SFTPClient, path: str, only_missing: bool = False) -> None:
    """Remove a file; a missing one is fine.  Without ``only_missing``, any failure is ignored (cleanup)."""
    try:
        sftp.remove(path)
    except FileNotFoundError:
        pass
    except Exception:
        if only_missing:
            raise

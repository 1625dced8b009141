"""One error hierarchy for the whole of Freezer.

Every error says what went wrong *and* what to do about it, in one line, and
carries the exit code the CLI returns and the HTTP status the API answers
with.  Bad input must end in one of these, never in a traceback.

Exit codes (documented in docs/cli.md):

====  ==================================================================
0     success
1     unexpected failure (a bug: please report it)
2     invalid options or configuration
3     storage unreachable or failing
4     stored data is corrupted, or the password is wrong
5     engine or mode failed (tar, database, snapshot, ...)
6     nothing to restore / backup not found
7     a required plugin is not installed
8     interrupted
====  ==================================================================
"""

from __future__ import annotations


class FreezerError(Exception):
    """Base class: a failure Freezer understands and can explain."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(FreezerError):
    """An option or a combination of options is invalid."""

    exit_code = 2
    http_status = 400


class ConfigError(ValidationError):
    """A configuration file is missing, unreadable or malformed."""


class PluginNotInstalled(FreezerError):
    """The storage, engine or mode asked for has no installed plugin."""

    exit_code = 7
    http_status = 400

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} '{name}' is not installed: pip install freezer-{kind}-{name}")
        self.kind = kind
        self.name = name


class StorageError(FreezerError):
    """The storage could not be read or written."""

    exit_code = 3
    http_status = 502


class ObjectNotFound(StorageError):
    """A named object does not exist in the storage."""

    http_status = 404


class PermissionDenied(StorageError):
    """The storage refused access (credentials, permissions)."""

    http_status = 403


class StorageFull(StorageError):
    """The storage has no space left."""

    http_status = 507


class TransientStorageError(StorageError):
    """A storage failure worth retrying (timeout, connection reset, 5xx)."""


class IntegrityError(FreezerError):
    """Stored data failed verification: corrupted, truncated or tampered with."""

    exit_code = 4
    http_status = 422


class DecryptionError(IntegrityError):
    """Data could not be decrypted: wrong password or damaged data."""


class EngineError(FreezerError):
    """The engine (tar, rsync, ...) failed."""

    exit_code = 5


class ModeError(FreezerError):
    """The mode could not make a consistent source or put a resource back."""

    exit_code = 5


class BackupInUse(FreezerError):
    """A backup cannot be removed now: something that is kept still needs it (admin skips it)."""

    exit_code = 5
    http_status = 409


class BackupNotFound(FreezerError):
    """There is no backup matching the request."""

    exit_code = 6
    http_status = 404


class Interrupted(FreezerError):
    """The run was interrupted (signal or abort)."""

    exit_code = 8

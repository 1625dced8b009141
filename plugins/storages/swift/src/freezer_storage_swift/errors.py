"""Swift, keystoneauth and network failures as one-line Freezer errors.

The split that matters is transient against permanent: the core retries a
5xx, a timeout or a dropped connection, but never wrong credentials or a
missing object, so a bad password fails at once instead of after minutes of
retries.
"""

from __future__ import annotations

import socket

from requests.exceptions import RequestException
from swiftclient.client import ClientException

from freezer_core.errors import (
    FreezerError,
    ObjectNotFound,
    PermissionDenied,
    StorageError,
    StorageFull,
    TransientStorageError,
)
from freezer_storage_swift.auth import Credentials

__all__ = ["is_transient", "translate"]

TRANSIENT_STATUSES = frozenset({408, 429, 498, 499})


def _transient_status(status: int | None) -> bool:
    return status is None or status >= 500 or status in TRANSIENT_STATUSES


def _keystone_exceptions() -> tuple[type[BaseException], ...]:
    from keystoneauth1 import exceptions as ka

    return ka.ConnectFailure, ka.ConnectionError, ka.RetriableConnectionFailure


def is_transient(exc: BaseException) -> bool:
    """True when the same request may well succeed if tried again."""
    if isinstance(exc, TransientStorageError):
        return True
    if isinstance(exc, FreezerError):
        return False
    if isinstance(exc, ClientException):
        return _transient_status(exc.http_status)
    if isinstance(exc, (RequestException, socket.timeout, ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, _keystone_exceptions())


def translate(exc: BaseException, what: str, creds: Credentials, where: str, *, authenticated: bool) -> FreezerError:
    """The Freezer error for ``exc``, raised while ``what`` on ``where``; never includes a secret."""
    if isinstance(exc, FreezerError):
        return exc
    refused = PermissionDenied(f"Swift refused the credentials: check {creds.user_hint} "
                               f"(auth URL {creds.auth_url})")
    from keystoneauth1 import exceptions as ka

    if isinstance(exc, ka.Unauthorized):
        return refused
    if isinstance(exc, ka.EndpointNotFound):
        return StorageError(f"Keystone at {creds.auth_url} lists no object-store endpoint for region "
                            f"{creds.region or '(any)'} and interface {creds.interface}: check OS_REGION_NAME "
                            f"and OS_INTERFACE")
    if isinstance(exc, _keystone_exceptions()):
        return TransientStorageError(f"cannot reach Keystone at {creds.auth_url}: check OS_AUTH_URL and the network")
    if isinstance(exc, ka.ClientException):
        return StorageError(f"Keystone at {creds.auth_url} failed while {what}: {type(exc).__name__}; "
                            f"check OS_AUTH_URL")
    if isinstance(exc, ClientException):
        status = exc.http_status
        if status == 401:
            return refused
        if status == 403:
            return PermissionDenied(f"Swift denied {what} on {where}: the user needs a role (or a container ACL) "
                                    f"that allows it")
        if status == 404:
            return ObjectNotFound(f"{what} on {where}: not found")
        if status == 413 or status == 507:
            return StorageFull(f"Swift rejected {what} on {where} ({status}): the account quota or the cluster "
                               f"is full; remove old backups (--action admin --remove-older-than DAYS)")
        text = f"Swift failed while {what} on {where}: {exc.http_status or ''} {exc.http_reason or exc.msg}".rstrip()
        return TransientStorageError(text) if _transient_status(status) else StorageError(text)
    if isinstance(exc, (RequestException, OSError)):
        if not authenticated and not creds.keystone:
            return TransientStorageError(f"cannot reach the Swift auth URL {creds.auth_url}: check ST_AUTH and "
                                         f"the network ({type(exc).__name__})")
        return TransientStorageError(f"cannot reach Swift while {what} on {where}: {type(exc).__name__}; "
                                     f"check the network")
    return StorageError(f"Swift failed while {what} on {where}: {type(exc).__name__}: {exc}")

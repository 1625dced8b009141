"""How S3 failures become Freezer errors, and which of them are worth retrying.

The core retries what a storage calls transient (``is_permanent`` is False)
and reports everything else at once.  So the mapping matters in both
directions: a wrong secret must fail on the first request with a line that
says which option to fix, while a throttled or restarted gateway must be
tried again instead of failing a night's backup.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from freezer_core.errors import (
    FreezerError,
    ObjectNotFound,
    PermissionDenied,
    StorageError,
    StorageFull,
    TransientStorageError,
    ValidationError,
)

TRANSIENT_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestThrottled", "RequestLimitExceeded",
    "TooManyRequestsException", "BandwidthLimitExceeded", "RequestTimeout", "RequestTimeoutException",
    "InternalError", "ServiceUnavailable", "OperationAborted", "500", "502", "503", "504",
})
"""Error codes S3 (and S3-compatible servers) use for "try again later"."""

CREDENTIAL_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired",
    "InvalidSecurity", "AuthorizationHeaderMalformed",
})
"""The server does not accept who we say we are."""

DENIED_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled", "AccountProblem"})
"""We are known but not allowed."""

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404"})


def error_code(exc: BaseException) -> str:
    """The S3 error code of a ClientError (``NoSuchKey``, ``403``, ...), or ''."""
    if not isinstance(exc, ClientError):
        return ""
    return str(exc.response.get("Error", {}).get("Code") or exc.response.get("ResponseMetadata", {})
               .get("HTTPStatusCode") or "")


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_transient(exc: BaseException) -> bool:
    """Whether trying again may succeed: throttling, 5xx, dropped or timed-out connections."""
    if isinstance(exc, TransientStorageError):
        return True
    if isinstance(exc, FreezerError):
        return False
    if isinstance(exc, ClientError):
        return error_code(exc) in TRANSIENT_CODES or _status(exc) >= 500 or _status(exc) == 429
    if isinstance(exc, SSLError):
        return False  # a certificate does not fix itself
    if isinstance(exc, (BotoConnectionError, HTTPClientError, IncompleteReadError)):
        return True
    return isinstance(exc, (ConnectionError, TimeoutError))


def translate(exc: Exception, what: str, where: str, endpoint: str) -> FreezerError:
    """A one-line Freezer error for a boto failure while doing ``what`` on ``where``."""
    if isinstance(exc, FreezerError):
        return exc
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message") or "").strip().rstrip(".")
        detail = f"{code}: {message}" if message else code
        if code in CREDENTIAL_CODES:
            return PermissionDenied(f"S3 refused the credentials while {what} on {where} ({code}): "
                                    "check --access-key/--secret-key (or ACCESS_KEY/SECRET_KEY)")
        if code in DENIED_CODES:
            return PermissionDenied(f"S3 refused access while {what} on {where} ({detail}): check "
                                    "--access-key/--secret-key and that this key may use the bucket")
        if code in NOT_FOUND_CODES:
            return ObjectNotFound(f"{where} has no such object or bucket ({what})")
        if code == "InvalidBucketName":
            return ValidationError(f"{where}: not a valid S3 bucket name; use --container bucket[/prefix] "
                                   "with 3-63 lowercase letters, digits, dots or hyphens for the bucket")
        if code in ("QuotaExceeded", "EntityTooLarge", "XMinioStorageFull"):
            return StorageFull(f"S3 refused more data while {what} on {where} ({detail}): "
                               "raise the quota or remove old backups (--action admin --remove-older-than DAYS)")
        if is_transient(exc):
            return TransientStorageError(f"S3 failed while {what} on {where} ({detail}): try again later")
        return StorageError(f"S3 failed while {what} on {where} ({detail})")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return ValidationError("no S3 credentials: give --access-key and --secret-key (or ACCESS_KEY/SECRET_KEY, "
                               "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an AWS profile)")
    if isinstance(exc, ProfileNotFound):
        return ValidationError(f"{exc}: set AWS_PROFILE to a profile of ~/.aws/config, or give --access-key "
                               "and --secret-key")
    if isinstance(exc, SSLError):
        return StorageError(f"TLS with the S3 endpoint {endpoint} failed: check its certificate "
                            "(AWS_CA_BUNDLE) or use --insecure")
    if isinstance(exc, BotoConnectionError):
        return TransientStorageError(f"cannot reach the S3 endpoint {endpoint} while {what}: "
                                     "check --endpoint and the network")
    if is_transient(exc):
        return TransientStorageError(f"the connection to the S3 endpoint {endpoint} failed while {what}: {exc}")
    if isinstance(exc, BotoCoreError):
        return StorageError(f"S3 failed while {what} on {where}: {exc}")
    return StorageError(f"S3 failed while {what} on {where}: {exc or type(exc).__name__}")

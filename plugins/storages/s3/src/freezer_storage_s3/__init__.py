"""S3 storage: the container is ``bucket[/prefix]`` on AWS S3 or any S3-compatible server.

Objects are keys under the prefix, laid out exactly as upstream Freezer lays
them out, so either agent finds the other's backups.  One botocore client is
made per storage and shared by every thread (botocore clients are
thread-safe), with a connection pool as large as the parallelism the core
uses.  boto's own retries are kept few: the core retries whatever
:meth:`S3Storage.is_permanent` calls transient, with its own backoff.

Credentials come from ``--access-key``/``--secret-key`` (the CLI also reads
``ACCESS_KEY``/``SECRET_KEY``); when those are absent botocore's usual chain
decides (``AWS_*`` variables, ``AWS_PROFILE`` and ``~/.aws``, instance roles).
The client loads lean copies of botocore's largest data files (see
:mod:`freezer_storage_s3._lean_data`): ~10 MiB less memory.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import botocore.session
from botocore.config import Config
from urllib3.exceptions import InsecureRequestWarning

from freezer_core.contract import ObjectInfo, Options, Storage, StorageProperties, Upload
from freezer_core.errors import ObjectNotFound, StorageError, ValidationError
from freezer_storage_s3._errors import NOT_FOUND_CODES, error_code, is_transient, translate
from freezer_storage_s3._lean_data import lean_data_dir
from freezer_storage_s3._upload import MAX_PARTS, MIN_PART_SIZE, S3Upload

__all__ = ["S3Storage", "S3Upload"]

T = TypeVar("T")
LOG = logging.getLogger("freezer.storage.s3")

CONNECTIONS = 8
MAX_OBJECT_SIZE = 5 * 1024**4
DEFAULT_REGION = "us-east-1"

# With --debug the root logger is at DEBUG, and botocore then logs every signed request,
# Authorization header (with the access key) included.  Keep boto's own loggers at INFO.
for _logger in ("botocore", "boto3", "urllib3", "s3transfer"):
    if logging.getLogger(_logger).getEffectiveLevel() < logging.INFO:
        logging.getLogger(_logger).setLevel(logging.INFO)


def _split_container(container: str) -> tuple[str, str]:
    """``bucket[/prefix]`` -> (bucket, prefix without surrounding slashes)."""
    bucket, _, prefix = container.strip().strip("/").partition("/")
    if not bucket:
        raise ValidationError(f"--container {container!r} is not bucket[/prefix]: name an S3 bucket")
    return bucket, "/".join(p for p in prefix.split("/") if p)


def _endpoint_url(endpoint: str | None) -> str | None:
    """The endpoint as a URL; a bare ``host[:port]`` means HTTPS."""
    if not endpoint:
        return None
    url = endpoint.strip().rstrip("/")
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"--endpoint {endpoint!r} is not an S3 URL: give it as http(s)://host[:port]")
    return url


class S3Storage(Storage):
    name = "s3"
    page_size = 1000
    """Keys per listing request (S3's maximum); tests lower it to exercise paging."""

    def __init__(self, container: str, options: Options) -> None:
        super().__init__(container, options)
        self.bucket, self.prefix = _split_container(container)
        access_key, secret_key = options.get("access_key"), options.get("secret_key")
        if bool(access_key) != bool(secret_key):
            raise ValidationError("give both --access-key and --secret-key (or neither, to use the AWS "
                                  "credential chain)")
        self.endpoint_url = _endpoint_url(options.get("endpoint"))
        proxy = options.get("proxy")
        config = Config(
            max_pool_connections=CONNECTIONS * 2,
            connect_timeout=10,
            read_timeout=60,
            retries={"mode": "standard", "total_max_attempts": 2},
            proxies={"http": proxy, "https": proxy} if proxy else None,
            # S3-compatible servers are often reached by IP or a name without wildcard DNS.
            s3={"addressing_style": "path"} if self.endpoint_url else None,
        )
        try:
            session = botocore.session.Session()
            lean = lean_data_dir()
            if lean:
                session.get_component("data_loader").search_paths.insert(0, str(lean))
            region = options.get("region") or session.get_config_variable("region") or DEFAULT_REGION
            self.client: Any = session.create_client(
                "s3", endpoint_url=self.endpoint_url, region_name=region, config=config,
                aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
                verify=False if options.get("insecure") else None)
            if options.get("insecure"):
                # Asked for explicitly: say it once in the log, not once per request on stderr.
                warnings.filterwarnings("ignore", category=InsecureRequestWarning)
                LOG.warning("TLS certificates of %s are not verified (--insecure)", self._where())
        except ValueError as exc:
            raise ValidationError(f"--endpoint {options.get('endpoint')!r} is not usable: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - e.g. a broken AWS profile
            raise translate(exc, "connecting", self.describe(), self._where()) from None
        self.region = region

    # ------------------------------------------------------------ plumbing

    def _where(self) -> str:
        client = getattr(self, "client", None)
        return self.endpoint_url or (f"AWS S3 ({client.meta.endpoint_url})" if client else "AWS S3")

    def key(self, name: str) -> str:
        """The S3 key of an object name (names are relative to the container)."""
        parts = [p for p in name.split("/") if p]
        return "/".join([self.prefix, *parts] if self.prefix else parts)

    def _name(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    def call(self, what: str, fn: Callable[[], T], writing: bool = False) -> T:
        """Run one S3 request; a missing bucket is created for a write, failures become Freezer errors."""
        try:
            try:
                return fn()
            except Exception as exc:
                if not (writing and error_code(exc) == "NoSuchBucket"):
                    raise
            self._create_bucket()
            return fn()
        except Exception as exc:
            raise translate(exc, what, self.describe(), self._where()) from exc

    def _create_bucket(self) -> None:
        """Create the bucket of the container (upstream Freezer creates it too)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != DEFAULT_REGION and not self.endpoint_url:
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client.create_bucket(**kwargs)
        except Exception as exc:
            if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _pages(self, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
        """Pages of list_objects_v2; a missing bucket lists as empty (it holds no backups yet)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix,
                                  "PaginationConfig": {"PageSize": self.page_size}}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        pages = iter(self.client.get_paginator("list_objects_v2").paginate(**kwargs))
        while True:
            try:
                page = self.call(f"listing {prefix or '/'}", lambda: next(pages, None))
            except ObjectNotFound:
                return
            if page is None:
                return
            yield page

    # ------------------------------------------------------------ writing

    def put(self, name: str, data: bytes) -> None:
        key = self.key(name)
        self.call(f"writing {name}", lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data),
                  writing=True)

    def open_upload(self, name: str) -> Upload:
        return S3Upload(self, name)

    # ------------------------------------------------------------ reading

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        key = self.key(name)
        if length == 0:
            if self.size(name) is None:
                raise ObjectNotFound(f"{name} not found in {self.describe()}")
            return b""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            kwargs["Range"] = f"bytes={offset}-{end}"

        def read() -> bytes:
            try:
                body = self.client.get_object(**kwargs)["Body"]
            except Exception as exc:
                if error_code(exc) == "InvalidRange":  # the range starts at or past the end
                    return b""
                raise
            try:
                return bytes(body.read())
            finally:
                body.close()

        try:
            return self.call(f"reading {name}", read)
        except ObjectNotFound:
            raise ObjectNotFound(f"{name} not found in {self.describe()}") from None

    def size(self, name: str) -> int | None:
        key = self.key(name)
        if not key:
            return None

        def head() -> int | None:
            try:
                return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
            except Exception as exc:
                if error_code(exc) in NOT_FOUND_CODES:
                    return None
                raise

        return self.call(f"checking {name}", head)

    def list(self, prefix: str) -> list[str]:
        base = self.key(prefix)
        base = base + "/" if base else ""
        children: set[str] = set()
        for page in self._pages(base, "/"):
            children.update(p["Prefix"][len(base):].rstrip("/") for p in page.get("CommonPrefixes", []))
            children.update(o["Key"][len(base):] for o in page.get("Contents", []))
        children.discard("")
        return sorted(children)

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.key(prefix)
        if base:
            size = self.size(prefix)
            if size is not None:
                yield ObjectInfo(self._name(base), size)
        for page in self._pages(base + "/" if base else ""):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):  # "folder" markers made by S3 consoles are not objects
                    yield ObjectInfo(self._name(obj["Key"]), int(obj["Size"]))

    # ------------------------------------------------------------ removing

    def delete(self, name: str) -> None:
        """Remove ``name``, everything under ``name/``, and the directories this leaves empty.

        Gateways that keep objects in a file system (SeaweedFS's filer, for
        one) keep empty directories after their last object is deleted and go
        on listing them as common prefixes: a removed chain would still show
        up as a timestamp.  Deleting the ``dir/`` keys, deepest first, removes
        them there; on AWS S3 such keys simply do not exist, and a non-empty
        directory is never removed.
        """
        key = self.key(name)
        if not key:
            raise StorageError(f"refusing to delete the whole container {self.describe()}: name what to remove")
        directories: set[str] = set()
        for page in self._pages(key + "/"):
            keys = [o["Key"] for o in page.get("Contents", [])]
            for k in keys:
                parts = k.split("/")
                directories.update("/".join(parts[:i]) + "/" for i in range(key.count("/") + 1, len(parts)))
            if keys:
                self.call(f"deleting {name}/", functools.partial(self._delete_keys, keys))
        if not directories and self.size(name) is None:
            return  # nothing there
        # Only names known to be directories get their "dir/" key deleted: on a filer-backed
        # gateway, deleting "x/" where "x" is an object deletes the object.
        parent = key.rpartition("/")[0]
        while len(parent) > len(self.prefix):
            directories.add(parent + "/")
            parent = parent.rpartition("/")[0]
        batch = [key, *sorted(directories, key=lambda d: (-d.count("/"), d))]
        for start in range(0, len(batch), 1000):
            self.call(f"deleting {name}", functools.partial(self._delete_keys, batch[start:start + 1000]))

    def _delete_keys(self, keys: Sequence[str]) -> None:
        """One DeleteObjects request (a listing page is at most 1000 keys, the request's limit)."""
        try:
            done = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
        except Exception as exc:
            if error_code(exc) == "NoSuchBucket":
                return
            raise
        failed = [e for e in done.get("Errors", []) if e.get("Code") not in ("NoSuchKey",)]
        if failed:
            first = failed[0]
            raise StorageError(f"S3 did not delete {len(failed)} objects of {self.describe()}, e.g. "
                               f"{first.get('Key')} ({first.get('Code')}: {first.get('Message')})")

    # ------------------------------------------------------------ behaviour

    def properties(self) -> StorageProperties:
        return StorageProperties(connections=CONNECTIONS, max_object_size=MAX_OBJECT_SIZE,
                                 min_part_size=MIN_PART_SIZE, max_parts=MAX_PARTS,
                                 borrows_parts=True)  # see S3Upload: a part is sent or copied when write_part returns

    def is_permanent(self, exc: BaseException) -> bool:
        return not is_transient(exc)

    def describe(self) -> str:
        where = self.endpoint_url or "aws"
        return f"s3:{where}/{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def close(self) -> None:
        self.client.close()

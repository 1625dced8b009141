"""The S3 storage against a real S3 server (SeaweedFS on 127.0.0.1, started by the test session)."""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from freezer_storage_s3 import S3Storage
from freezer_storage_s3._upload import _PartReader
from hypothesis import given
from hypothesis import strategies as st

from freezer_core.errors import (
    ObjectNotFound,
    PermissionDenied,
    StorageError,
    TransientStorageError,
    ValidationError,
)
from freezer_core.models import Action
from freezer_core.pipeline.transfer import segment_size_at
from freezer_core.testing.storage import StorageTests
from tests.services import Service, free_port

MiB = 1024 * 1024
BUCKET = "freezer-tests"


def options(server: Service, **overrides: Any) -> dict[str, Any]:
    env = server.env
    return {"endpoint": env["S3_ENDPOINT"], "access_key": env["S3_ACCESS_KEY"],
            "secret_key": env["S3_SECRET_KEY"], **overrides}


@pytest.fixture
def container() -> str:
    """A fresh prefix in the shared test bucket (one bucket per test would cost SeaweedFS volumes)."""
    return f"{BUCKET}/t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(s3_server: Service, container: str) -> Iterator[S3Storage]:
    storage = S3Storage(container, options(s3_server))
    yield storage
    storage.close()


class TestS3Storage(StorageTests):
    @pytest.fixture
    def storage(self, store: S3Storage) -> S3Storage:
        return store


def _pending_uploads(store: S3Storage) -> list[str]:
    listed = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix + "/")
    return [u["Key"] for u in listed.get("Uploads", [])]


def test_prefixes_db_and_db2_never_mix(s3_server: Service) -> None:
    base = f"{BUCKET}/mix-{uuid.uuid4().hex[:8]}"
    db, db2 = S3Storage(f"{base}/db", options(s3_server)), S3Storage(f"{base}/db2/", options(s3_server))
    db.put("metadata/tar/h_n/1/0_1/metadata", b"1")
    db2.put("metadata/tar/h_n/2/0_2/metadata", b"22")
    assert db.list("metadata/tar/h_n") == ["1"]
    assert db2.list("metadata/tar/h_n") == ["2"]
    assert [o.name for o in db.walk()] == ["metadata/tar/h_n/1/0_1/metadata"]
    assert db.list("") == ["metadata"]
    db.delete("metadata")
    assert db2.get("metadata/tar/h_n/2/0_2/metadata") == b"22"


def test_multipart_upload_in_parallel_out_of_order_and_ranged_reads(store: S3Storage) -> None:
    data = os.urandom(3 * 5 * MiB + 1000)
    part = 5 * MiB
    pieces = [(i, off, data[off:off + part]) for i, off in enumerate(range(0, len(data), part))]
    upload = store.open_upload("big/data")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda p: upload.write_part(*p), reversed(pieces)))
    upload.write_part(*pieces[2])  # a retried part replaces itself
    assert _pending_uploads(store) == [store.key("big/data")]
    assert store.size("big/data") is None
    upload.complete()
    assert _pending_uploads(store) == []
    assert store.size("big/data") == len(data)
    assert hashlib.sha256(store.get("big/data")).digest() == hashlib.sha256(data).digest()
    for offset, length in [(part - 10, 20), (2 * part - 1, part + 2), (3 * part - 3, 10_000), (len(data) - 1, 5)]:
        assert store.get("big/data", offset, length) == data[offset:offset + length]
    assert store.get("big/data", len(data)) == b""


def test_short_parts_at_the_end_are_merged_into_the_last_part(store: S3Storage) -> None:
    data = os.urandom(5 * MiB + 300)
    upload = store.open_upload("tail/data")
    upload.write_part(2, 5 * MiB + 100, data[5 * MiB + 100:])
    upload.write_part(0, 0, data[:5 * MiB])
    upload.write_part(1, 5 * MiB, data[5 * MiB:5 * MiB + 100])
    upload.complete()
    assert store.get("tail/data") == data


def test_a_short_part_in_the_middle_is_refused(store: S3Storage) -> None:
    upload = store.open_upload("mid/data")
    upload.write_part(0, 0, b"short")
    upload.write_part(1, 5, b"x" * (5 * MiB))
    with pytest.raises(StorageError, match="smaller than the S3 minimum"):
        upload.complete()
    upload.abort()
    assert _pending_uploads(store) == []


def test_abort_leaves_no_object_and_no_pending_upload(store: S3Storage) -> None:
    upload = store.open_upload("ab/data")
    upload.write_part(0, 0, os.urandom(5 * MiB))
    assert _pending_uploads(store) == [store.key("ab/data")]
    upload.abort()
    upload.abort()
    assert _pending_uploads(store) == []
    assert store.size("ab/data") is None
    assert list(store.walk("ab")) == []
    with pytest.raises(StorageError, match="aborted"):
        upload.write_part(1, 5 * MiB, b"late")


def test_small_upload_never_starts_a_multipart_upload(store: S3Storage) -> None:
    upload = store.open_upload("small/data")
    upload.write_part(0, 0, b"tiny")
    assert _pending_uploads(store) == []
    upload.complete()
    assert store.get("small/data") == b"tiny"


def test_listing_and_delete_page_through_results(store: S3Storage) -> None:
    store.page_size = 4  # S3 pages hold up to 1000 keys; a few small pages take the same code path
    names = [f"many/{i:02d}" for i in range(9)] + [f"many/sub{i}/x" for i in range(5)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: store.put(n, b"x"), names))
    store.put("many2/keep", b"k")
    assert store.list("many") == sorted(n.split("/")[1] for n in names)
    assert sorted(o.name for o in store.walk("many")) == sorted(names)
    store.delete("many")
    assert list(store.walk("many")) == []
    assert store.list("") == ["many2"]
    assert store.get("many2/keep") == b"k"


def test_delete_leaves_no_empty_directory_behind(store: S3Storage) -> None:
    store.put("m/t/h_n/10/0_10/metadata", b"{}")
    store.put("m/t/h_n/20/0_20/metadata", b"{}")
    store.delete("m/t/h_n/10/0_10/metadata")
    assert store.list("m/t/h_n") == ["20"]
    store.delete("m/t/h_n/20")
    assert store.list("m/t/h_n") == []
    assert store.list("") == []


def test_deleting_below_an_object_keeps_the_object(store: S3Storage) -> None:
    """A filer-backed gateway deletes the object "a" when asked to delete the directory key "a/"."""
    store.put("a", b"object")
    store.delete("a/a")
    assert store.get("a") == b"object"


def test_missing_bucket_reads_as_empty_and_is_created_on_first_write(s3_server: Service) -> None:
    storage = S3Storage(f"fresh-{uuid.uuid4().hex[:10]}/p", options(s3_server))
    assert storage.list("") == []
    assert list(storage.walk()) == []
    assert storage.size("x") is None
    with pytest.raises(ObjectNotFound):
        storage.get("x")
    storage.delete("x")
    storage.put("x", b"1")
    assert storage.get("x") == b"1"
    storage.client.delete_object(Bucket=storage.bucket, Key="p/x")
    storage.client.delete_bucket(Bucket=storage.bucket)


def test_a_part_lent_as_a_view_is_sent_whole_after_the_bucket_is_created(s3_server: Service) -> None:
    """The first attempt fails on the missing bucket; the second must send the part from its first byte."""
    storage = S3Storage(f"lent-{uuid.uuid4().hex[:10]}/p", options(s3_server))
    assert storage.properties().borrows_parts
    data = os.urandom(5 * MiB + 7)
    buffer = bytearray(data)
    upload = storage.open_upload("v")
    upload.write_part(0, 0, memoryview(buffer).toreadonly())
    buffer[:] = bytes(len(buffer))  # the core refills the buffer once write_part has returned
    upload.complete()
    assert storage.get("v") == data
    storage.client.delete_object(Bucket=storage.bucket, Key="p/v")
    storage.client.delete_bucket(Bucket=storage.bucket)


_reads = st.lists(st.one_of(
    st.tuples(st.just("read"), st.integers(-1, 300) | st.none()),
    st.tuples(st.just("seek"), st.integers(-300, 300), st.sampled_from([io.SEEK_SET, io.SEEK_CUR, io.SEEK_END])),
    st.tuples(st.just("readinto"), st.integers(0, 300)),
), max_size=20)


@given(st.binary(max_size=256), _reads)
def test_part_reader_reads_and_seeks_like_a_file(data: bytes, ops: list[tuple[Any, ...]]) -> None:
    """What botocore does with a body (read in pieces, tell, seek back) gives what a BytesIO gives."""
    reader, reference = _PartReader(memoryview(data)), io.BytesIO(data)
    for op, *args in ops:
        if op == "seek":
            offset, whence = args
            start = {io.SEEK_SET: 0, io.SEEK_CUR: reference.tell(), io.SEEK_END: len(data)}[whence]
            if start + offset < 0:
                with pytest.raises(ValueError, match="negative seek"):
                    reader.seek(offset, whence)
            else:
                assert reader.seek(offset, whence) == reference.seek(offset, whence)
        elif op == "read":
            assert bytes(reader.read(args[0])) == reference.read(args[0])
        else:
            mine, theirs = bytearray(args[0]), bytearray(args[0])
            assert reader.readinto(mine) == reference.readinto(theirs)
            assert mine == theirs
        assert reader.tell() == reference.tell()


def test_wrong_secret_is_permission_denied_and_permanent(s3_server: Service, container: str) -> None:
    storage = S3Storage(container, options(s3_server, secret_key="not-the-secret"))
    with pytest.raises(PermissionDenied, match="refused the credentials.*--access-key/--secret-key") as err:
        storage.put("x", b"1")
    assert storage.is_permanent(err.value)
    assert storage.is_permanent(err.value.__cause__)
    assert "not-the-secret" not in str(err.value)


def test_unreachable_endpoint_is_transient_and_named() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    storage = S3Storage("bucket/p", {"endpoint": endpoint, "access_key": "a", "secret_key": "b"})
    with pytest.raises(TransientStorageError, match=f"cannot reach the S3 endpoint {endpoint}") as err:
        storage.size("x")
    assert not storage.is_permanent(err.value)
    assert not storage.is_permanent(err.value.__cause__)


@pytest.fixture(scope="module")
def offline() -> S3Storage:
    """A storage that is never asked to reach its server."""
    return S3Storage("bucket", {"endpoint": "http://127.0.0.1:1", "access_key": "a", "secret_key": "b"})


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "PutObject")


@pytest.mark.parametrize(("exc", "permanent"), [
    (_client_error("SlowDown", 503), False),
    (_client_error("InternalError", 500), False),
    (_client_error("BadGateway", 502), False),
    (_client_error("GatewayTimeout", 504), False),
    (EndpointConnectionError(endpoint_url="http://x"), False),
    (ReadTimeoutError(endpoint_url="http://x"), False),
    (_client_error("AccessDenied", 403), True),
    (_client_error("InvalidAccessKeyId", 403), True),
    (_client_error("SignatureDoesNotMatch", 403), True),
    (_client_error("NoSuchBucket", 404), True),
    (_client_error("404", 404), True),
])
def test_is_permanent(offline: S3Storage, exc: BaseException, permanent: bool) -> None:
    assert offline.is_permanent(exc) is permanent


def test_describe_and_options() -> None:
    storage = S3Storage("/bucket/some//prefix/", {"endpoint": "http://127.0.0.1:9000/"})
    assert storage.describe() == "s3:http://127.0.0.1:9000/bucket/some/prefix"
    assert storage.key("a/b") == "some/prefix/a/b"
    props = storage.properties()
    assert props.min_part_size == 5 * MiB and props.connections >= 4 and props.max_object_size == 5 * 1024**4
    assert props.borrows_parts
    # Within its 10 000 parts, an upload from the default segment size grows to S3's largest object.
    first = Action().max_segment_size
    assert props.max_parts == 10_000
    sizes = [segment_size_at(n, first, props.max_parts) for n in range(props.max_parts)]
    assert sum(sizes) >= props.max_object_size and max(sizes) <= 5 * 1024**3  # S3's largest part
    assert sum(sizes[:4000]) > 30 * 1024**3  # backups up to 30 GiB keep the default segments
    with pytest.raises(ValidationError, match="--access-key and --secret-key"):
        S3Storage("bucket", {"access_key": "only-half"})
    with pytest.raises(ValidationError, match="--container"):
        S3Storage("/", {})
    with pytest.raises(ValidationError, match="--endpoint"):
        S3Storage("bucket", {"endpoint": "ftp://host"})

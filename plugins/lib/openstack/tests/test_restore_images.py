"""restore_images: the restore side the glance and nova engines share, without any OpenStack.

``Cloud`` connects only when asked for ``conn``, so the dispatch runs here on
its own: the tests hand it streams written the way the engines write them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from freezer_openstack import Cloud
from freezer_openstack.images import frame, restore_images
from hypothesis import given
from hypothesis import strategies as st

from freezer_core.errors import IntegrityError


def _chunked(blob: bytes, cuts: list[int]) -> Iterator[bytes]:
    """``blob`` cut at the given offsets (as storage may hand it over in any chunk sizes)."""
    start = 0
    for cut in sorted({c % (len(blob) + 1) for c in cuts}):
        yield blob[start:cut]
        start = cut
    yield blob[start:]


class _Recorder:
    def __init__(self) -> None:
        self.restored: list[tuple[dict[str, Any], bytes]] = []
        self.clouds: set[int] = set()

    def __call__(self, cloud: Cloud, header: dict[str, Any], data: Iterator[bytes]) -> None:
        self.clouds.add(id(cloud))
        self.restored.append((header, b"".join(data)))


@given(images=st.lists(st.binary(max_size=3000), min_size=1, max_size=4),
       cuts=st.lists(st.integers(min_value=0, max_value=20000), max_size=12))
def test_a_project_stream_gives_each_image_exactly_its_bytes_over_one_connection(images: list[bytes],
                                                                                 cuts: list[int]) -> None:
    blob = frame({"kind": "glance-project", "time_stamp": 1, "image": {}, "resource": {}})
    for i, data in enumerate(images):
        blob += frame({"kind": "glance", "time_stamp": 1, "image": {"id": f"i{i}"}, "length": len(data)}) + data
    seen = _Recorder()
    restore_images({}, _chunked(blob, cuts), "glance", seen)
    assert [(h["image"]["id"], data) for h, data in seen.restored] == [(f"i{i}", d) for i, d in enumerate(images)]
    assert len(seen.clouds) == 1


@given(data=st.binary(max_size=5000), cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=8))
def test_a_single_image_stream_hands_over_everything_after_its_header(data: bytes, cuts: list[int]) -> None:
    seen = _Recorder()
    blob = frame({"kind": "nova", "time_stamp": 7, "image": {"id": "x"}, "resource": {"server_name": "vm"}}) + data
    restore_images({}, _chunked(blob, cuts), "nova", seen)
    [(header, got)] = seen.restored
    assert header["resource"] == {"server_name": "vm"} and got == data


def test_another_engines_stream_and_a_dry_run_never_reach_restore_one() -> None:
    seen = _Recorder()
    glance = frame({"kind": "glance", "time_stamp": 1, "image": {"id": "g"}}) + b"bytes"
    with pytest.raises(IntegrityError, match="not a nova backup written by Freezer"):
        restore_images({}, [glance], "nova", seen)
    with pytest.raises(IntegrityError, match="not an OpenStack image stream written by Freezer"):
        restore_images({}, [b"not framed at all"], "glance", seen)
    restore_images({"dry_run": True}, [glance], "glance", seen)
    assert seen.restored == []


def test_a_project_stream_cut_inside_an_image_is_an_integrity_error() -> None:
    blob = frame({"kind": "glance-project", "time_stamp": 1, "image": {}, "resource": {}})
    blob += frame({"kind": "glance", "time_stamp": 1, "image": {"id": "g"}, "length": 100}) + b"x" * 60
    with pytest.raises(IntegrityError, match="40 bytes early"):
        restore_images({}, [blob], "glance", _Recorder())

"""A tool's stdout read as a backup stream: whole chunks, whatever sizes the tool writes in."""

from __future__ import annotations

import os
import sys
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from freezer_core.procstream import CHUNK_SIZE, CommandStream, read_chunk


def _write_in_pieces(fd: int, sizes: list[int]) -> bytes:
    """Write ``sizes`` pieces of distinct bytes to ``fd`` from a thread, then close it; return them all."""
    data = b"".join(bytes([i % 251]) * size for i, size in enumerate(sizes))

    def writer() -> None:
        with os.fdopen(fd, "wb", buffering=0) as pipe:
            view = memoryview(data)
            for size in sizes:
                pipe.write(view[:size])
                view = view[size:]

    threading.Thread(target=writer, daemon=True).start()
    return data


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3 * CHUNK_SIZE // 2), min_size=0, max_size=8))
def test_read_chunk_gives_whole_chunks_until_the_end(sizes: list[int]) -> None:
    read_fd, write_fd = os.pipe()
    data = _write_in_pieces(write_fd, sizes)
    chunks = []
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while chunk := read_chunk(pipe):
            chunks.append(chunk)
    assert b"".join(chunks) == data
    assert all(len(c) == CHUNK_SIZE for c in chunks[:-1])
    assert all(isinstance(c, bytes) for c in chunks)


def test_command_stream_yields_whole_chunks_of_a_tool_writing_small_pieces() -> None:
    total = 3 * CHUNK_SIZE + 12345
    script = (
        "import os, sys\n"
        f"left = {total}\n"
        "while left:\n"
        "    n = min(4099, left)\n"
        "    os.write(1, bytes([left % 256]) * n)\n"
        "    left -= n\n"
    )
    stream = CommandStream([sys.executable, "-c", script], tool="writer")
    chunks = list(stream)
    stream.close()
    assert [len(c) for c in chunks] == [CHUNK_SIZE] * 3 + [12345]
    assert stream.state() == b""

"""Per-stage throughput of the pipeline, in MB per CPU-second and in wall MB/s.

Why CPU-seconds: on a shared machine wall time swings with the neighbours'
load, while the CPU a stage burns per byte hardly moves.  A stage's share of
the total CPU is what a 2-core machine has to fit into the wall time of
``tar | zstd -1``; this is the data behind "where the time goes" in
``docs/performance.md``.

    .venv/bin/python benchmarks/stages.py [DIR]   # default: the --quick data set
"""

from __future__ import annotations

import hashlib
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from freezer_core.pipeline import apply  # noqa: E402
from freezer_core.pipeline.compression import compressor, decompressor  # noqa: E402
from freezer_core.pipeline.crypto import ScryptParams, decryptor, encryptor  # noqa: E402

CHUNK = 1 << 20


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def stage(name: str, size: int, work: Callable[[], object]) -> object:
    wall, cpu = time.perf_counter(), _cpu()
    out = work()
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    print(f"{name:34s} {size / cpu / 1e6 if cpu else 0:8.0f} MB/CPU-s {size / wall / 1e6:8.0f} MB/s wall"
          f"  ({cpu:5.2f} CPU-s, {wall:5.2f} s)", flush=True)
    return out


def chunks(data: bytes) -> Iterable[bytes]:
    return (data[i : i + CHUNK] for i in range(0, len(data), CHUNK))


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.home() / ".cache/freezer-bench/dataset-s0.0625-seed42"
    tar = subprocess.run(["tar", "-cf", "-", "-C", str(root), "."], capture_output=True, check=True).stdout
    n = len(tar)
    print(f"tar stream of {root}: {n / 1e6:.0f} MB")
    stage("tar -c (to a pipe)", n, lambda: subprocess.run(
        ["tar", "-cf", "-", "-C", str(root), "."], stdout=subprocess.DEVNULL, check=True))
    for name in ("zstd", "gzip"):
        packed = stage(f"{name} compress (default level)", n,
                       lambda name=name: b"".join(apply(chunks(tar), compressor(name))))
        assert isinstance(packed, bytes)
        print(f"{'':34s} ratio {len(packed) / n:.3f}")
        stage(f"{name} decompress", n, lambda name=name, packed=packed: sum(
            len(p) for p in apply(chunks(packed), decompressor(name))))
    sealed = stage("AES-256-GCM encrypt (freezer format)", n, lambda: b"".join(
        apply(chunks(tar), encryptor(b"pw", kdf=ScryptParams(log2_n=10)))))
    assert isinstance(sealed, bytes)
    stage("AES-256-GCM decrypt", n, lambda: sum(len(p) for p in apply(chunks(sealed), decryptor(b"pw"))))
    stage("SHA-256 (segment checksums)", n, lambda: hashlib.sha256(tar).hexdigest())
    for cmd in (["zstd", "-1", "-c"], ["gzip", "-6", "-c"]):
        stage(" ".join(cmd), n, lambda cmd=cmd: subprocess.run(cmd, input=tar, stdout=subprocess.DEVNULL, check=True))


if __name__ == "__main__":
    main()

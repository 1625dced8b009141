"""Memory is bounded by queue depth × segment size, whatever the size of the backup.

The agent backs up (and restores) a small and an eight times larger file; its
peak RSS must not grow with the input.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AGENT = str(Path(sys.executable).with_name("freezer-agent"))
MiB = 1024 * 1024


def peak_rss_mib(args: list[str], tmp_path: Path) -> float:
    """Run the agent under GNU time and return its own peak resident set size.

    Not ``wait4`` from this process: Linux keeps the forking process's high-water
    mark in a child's ``ru_maxrss`` across exec, so a child of a big pytest
    process would report pytest's size.  GNU time forks from a small process.
    """
    report = tmp_path / "maxrss"
    done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(report), AGENT, *args, "--log-file", os.devnull],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr
    return int(report.read_text().split()[-1]) / 1024


def test_peak_memory_does_not_grow_with_the_input(tmp_path: Path, pass_file: Path) -> None:
    peaks = {}
    for size in (32, 256):
        src = tmp_path / f"src{size}"
        src.mkdir()
        with open(src / "blob.bin", "wb") as f:
            for _ in range(size):
                f.write(os.urandom(MiB))
        common = ["--storage", "local", "--container", str(tmp_path / f"c{size}"), "--backup-name", "m",
                  "--max-segment-size", "4M", "--compression", "zstd", "--encrypt-pass-file", str(pass_file)]
        backup = peak_rss_mib(["--path-to-backup", str(src), *common], tmp_path)
        restore = peak_rss_mib(["--action", "restore", "--restore-abs-path", str(tmp_path / f"r{size}"), *common],
                               tmp_path)
        peaks[size] = (backup, restore)
    small, large = peaks[32], peaks[256]
    # 224 MiB more input may cost a few segments of slack, not the input itself.
    assert large[0] - small[0] < 40, peaks
    assert large[1] - small[1] < 40, peaks
    assert max(large) < 150, peaks

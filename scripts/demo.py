"""`make demo`: a real full + incremental backup and a byte-identical restore.

Everything happens under ./demo-out with the embedded defaults: local
storage, tar engine, zstd compression and Freezer's authenticated
encryption. Each step prints the freezer-agent command it runs, so the demo
doubles as a tutorial.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "demo-out"
AGENT = str(Path(sys.executable).with_name("freezer-agent"))


def agent(*args: str) -> dict:
    cmd = [AGENT, *args, "--log-file", str(OUT / "freezer.log"), "--metadata-out", "-"]
    shown = " ".join(a if " " not in a else repr(a) for a in args).replace(str(ROOT) + "/", "")
    print(f"\n$ freezer-agent {shown}")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"demo failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def tree_digest(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def make_sample(src: Path) -> None:
    rng = random.Random(42)
    for d in range(5):
        sub = src / f"dir{d}"
        sub.mkdir(parents=True)
        for f in range(20):
            words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "freezer"]) for _ in range(400))
            (sub / f"file{f}.txt").write_text(words)
    (src / "blob.bin").write_bytes(rng.randbytes(2 * 1024 * 1024))
    (src / "empty-dir").mkdir()
    (src / "link").symlink_to("dir0/file0.txt")


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    src, container, restored = OUT / "source", OUT / "backups", OUT / "restored"
    make_sample(src)
    pass_file = OUT / "password"
    pass_file.write_text("correct horse battery staple\n")
    common = ["--storage", "local", "--container", str(container), "--backup-name", "demo",
              "--hostname", "demo-host", "--compression", "zstd", "--encrypt-pass-file", str(pass_file)]
    print(f"Sample tree: {src} ({sum(f.stat().st_size for f in src.rglob('*') if f.is_file())} bytes)")

    full = agent("--action", "backup", "--path-to-backup", str(src), "--incremental", "--max-level", "5",
                 *common)
    print(f"  -> level {full['curr_backup_level']}, {full['backup_size']} bytes read, "
          f"{full['stored_size']} stored (compressed + encrypted)")

    time.sleep(1.1)
    (src / "dir1" / "file3.txt").write_text("changed after the full backup\n")
    (src / "new-file.txt").write_text("added after the full backup\n")
    (src / "dir2" / "file0.txt").unlink()
    expected = tree_digest(src)
    incr = agent("--action", "backup", "--path-to-backup", str(src), "--incremental", "--max-level", "5",
                 *common)
    print(f"  -> level {incr['curr_backup_level']}, {incr['stored_size']} bytes stored "
          f"(only what changed)")

    agent("--action", "restore", "--restore-abs-path", str(restored), *common)
    got = tree_digest(restored)
    if got != expected:
        diff = sorted(set(got.items()) ^ set(expected.items()))[:5]
        sys.exit(f"demo failed: the restored tree differs from the source: {diff}")
    print(f"  -> restored {len(got)} entries into {restored}: byte-identical to the source "
          f"(sha256 of every file, symlinks and directories compared)")

    info = agent("--action", "info", "--storage", "local", "--container", str(container))
    for b in info["backups"]:
        print(f"  -> {b['backup_name']} ({b['engine_name']}): {b['backups']} backups in {b['chains']} chain(s), "
              f"{b['size']} bytes in {b['objects']} objects")
    print(f"\nDemo OK. Storage layout under {container}:")
    for path in sorted(container.rglob("*")):
        if path.is_file():
            print(f"  {path.relative_to(container)}  ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

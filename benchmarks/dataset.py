"""A deterministic, server-like data set for the benchmark, and the change step applied to it.

Same seed and scale, same bytes: every tool in every repetition backs up the
same tree, and a run on another machine reads the same data.  At scale 1.0
the tree holds 1 GiB in 46,679 regular files, split like a server's disk:

* 60% text (source code, configs, docs): many small files, Zipf-distributed words;
* 25% incompressible (a few large random blobs, many media-like files);
* 15% highly compressible (logs from a few templates, mostly-empty disk images);

plus symbolic links (one dangling) and empty directories.  :func:`change`
then touches 1% of the files, appends to the largest log, adds and deletes
files, which is what the incremental backup measures.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import random
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

GIB = 1 << 30
FILES_AT_SCALE_1 = 46_679
TEXT_SHARE, RANDOM_SHARE = 0.60, 0.25  # the rest (15%) is highly compressible

Manifest = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Plan:
    """How many files and bytes of each kind a scale asks for."""

    scale: float

    @property
    def total(self) -> int:
        return int(GIB * self.scale)

    @property
    def files(self) -> int:
        return max(200, round(FILES_AT_SCALE_1 * self.scale))

    @property
    def blobs(self) -> list[int]:
        """The large random files (VM images, archives, database files)."""
        return [int(self.total * share) for share in (0.08, 0.06, 0.04)]

    @property
    def media_files(self) -> int:
        return max(10, self.files // 80)

    @property
    def logs(self) -> list[int]:
        """Log files: one large one (appended by the change step) and rotated ones."""
        big = int(self.total * 0.06)
        rotated = max(4, round(24 * min(self.scale, 4.0)))
        return [big] + [int(self.total * 0.05 / rotated)] * rotated

    @property
    def images(self) -> list[int]:
        """Mostly-empty disk images and raw bitmaps."""
        return [int(self.total * 0.02), int(self.total * 0.02)]

    @property
    def text_files(self) -> int:
        return self.files - len(self.blobs) - self.media_files - len(self.logs) - len(self.images)


def _words(rng: random.Random) -> list[str]:
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4, 2.2, 2.0, 2.0, 1.9,
               1.5, 1.0, 0.8, 0.2, 0.2, 0.1, 0.1]
    words = {"".join(rng.choices(letters, weights, k=rng.randint(2, 11))) for _ in range(9000)}
    keywords = ["def", "return", "self", "import", "class", "if", "else", "for", "in", "None", "true", "false",
                "{", "}", "=", "==", "(", ")", "[", "]", "#", "//", "int", "str", "const", "let", "function"]
    return keywords + sorted(words)


def _line_pool(rng: random.Random, count: int) -> list[str]:
    """Lines of code, config and prose; files draw from this pool so text costs little CPU to make."""
    words = _words(rng)
    cum = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))  # Zipf
    lines = []
    for _ in range(count):
        indent = "    " * rng.choice((0, 0, 1, 1, 2, 3))
        picked = rng.choices(words, cum_weights=cum, k=rng.randint(1, 14))
        if rng.random() < 0.15:
            picked.append(str(rng.randint(0, 1 << 20)))
        if rng.random() < 0.1:
            picked = [picked[0], "=", f'"{rng.getrandbits(64):016x}"']
        lines.append(indent + " ".join(picked) + "\n")
    return lines


_TEXT_DIRS = ("srv/app{0}/src/pkg{1}", "srv/app{0}/tests", "etc/conf.d/svc{1}", "usr/share/doc/lib{1}",
              "home/user{0}/projects/p{1}", "opt/vendor{0}/lib/m{1}")
_TEXT_EXT = (".py", ".c", ".h", ".js", ".conf", ".md", ".txt", ".yaml", ".html", ".go")


def _sizes(rng: random.Random, count: int, total: int, sigma: float) -> list[int]:
    raw = [rng.lognormvariate(0.0, sigma) for _ in range(count)]
    factor = total / sum(raw)
    return [max(0, int(r * factor)) for r in raw]


def _text(rng: random.Random, pool: list[str], size: int) -> bytes:
    out: list[str] = []
    have = 0
    while have < size:
        lines = rng.choices(pool, k=max(8, (size - have) // 40))
        out.extend(lines)
        have += sum(map(len, lines))
    return "".join(out).encode()[:size]


_LOG_TEMPLATES = (
    "{ts} web{h} nginx[{pid}]: 10.0.{a}.{b} - - \"GET /api/v1/items/{n} HTTP/1.1\" 200 {sz} \"-\" \"curl/8.5\"\n",
    "{ts} web{h} app[{pid}]: INFO request id={n} user={a} took {b}ms status=ok\n",
    "{ts} db{h} postgres[{pid}]: LOG:  duration: {b}.{a} ms  statement: SELECT * FROM orders WHERE id = {n}\n",
    "{ts} web{h} app[{pid}]: WARNING cache miss for key session:{n}, refilling\n",
)


def _log(rng: random.Random, size: int, start: int = 1_700_000_000) -> bytes:
    parts: list[str] = []
    have, t = 0, start * 1000
    while have < size:
        t += rng.randint(1, 900)
        sec, ms = divmod(t, 1000)
        line = rng.choice(_LOG_TEMPLATES).format(
            ts=f"{sec}.{ms:03d}", h=rng.randint(1, 4), pid=rng.randint(100, 999), a=rng.randint(0, 255),
            b=rng.randint(0, 999), n=rng.randint(0, 99999), sz=rng.randint(100, 9000))
        parts.append(line)
        have += len(line)
    return "".join(parts).encode()[:size]


def _image(rng: random.Random, size: int) -> bytes:
    """A disk image: mostly zero blocks, some repeated structures, a little noise."""
    block = 64 << 10
    pattern = bytes(range(256)) * (block // 256)
    out = bytearray()
    while len(out) < size:
        pick = rng.random()
        if pick < 0.75:
            out += bytes(block)
        elif pick < 0.97:
            out += pattern
        else:
            out += rng.randbytes(block)
    return bytes(out[:size])


def _random(rng: random.Random, size: int) -> bytes:
    """``size`` random bytes; past 128 MiB made in pieces (one ``randbytes`` call stops at 256 MiB).

    Below that the bytes are exactly ``rng.randbytes(size)``, so data sets of
    scale 1 stay what they were.
    """
    if size <= 128 << 20:
        return rng.randbytes(size)
    return b"".join(rng.randbytes(min(64 << 20, size - at)) for at in range(0, size, 64 << 20))


def generate(root: Path, scale: float, seed: int) -> None:
    """Write the data set under ``root`` (which must not exist yet)."""
    plan = Plan(scale)
    rng = random.Random(seed)
    root.mkdir(parents=True)
    pool = _line_pool(rng, 60_000)
    jobs: list[tuple[Path, str, int, int]] = []  # path, kind, size, seed: content made in threads
    text_sizes = _sizes(rng, plan.text_files, int(plan.total * TEXT_SHARE), 1.3)
    for i, size in enumerate(text_sizes):
        folder = rng.choice(_TEXT_DIRS).format(i % 23, rng.randint(0, 40))
        jobs.append((root / folder / f"f{i:06d}{rng.choice(_TEXT_EXT)}", "text", size, rng.getrandbits(63)))
    media_total = int(plan.total * RANDOM_SHARE) - sum(plan.blobs)
    for i, size in enumerate(_sizes(rng, plan.media_files, media_total, 0.8)):
        jobs.append((root / f"srv/media/{i % 17}/img{i:05d}.jpg", "random", size, rng.getrandbits(63)))
    for i, size in enumerate(plan.blobs):
        jobs.append((root / f"var/lib/blobs/blob{i}.bin", "random", size, rng.getrandbits(63)))
    for i, size in enumerate(plan.logs):
        name = "var/log/app.log" if i == 0 else f"var/log/archive/app.log.{i}"
        jobs.append((root / name, "log", size, rng.getrandbits(63)))
    for i, size in enumerate(plan.images):
        jobs.append((root / f"var/lib/images/disk{i}.img", "image", size, rng.getrandbits(63)))

    def write(job: tuple[Path, str, int, int]) -> None:
        path, kind, size, file_seed = job
        frng = random.Random(file_seed)
        if kind == "text":
            data = _text(frng, pool, size)
        elif kind == "random":
            data = _random(frng, size)
        elif kind == "log":
            data = _log(frng, size)
        else:
            data = _image(frng, size)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    with ThreadPoolExecutor(max_workers=2) as pool_:
        list(pool_.map(write, jobs))
    files = sorted(str(j[0].relative_to(root)) for j in jobs)
    for i in range(max(5, plan.files // 200)):
        target = files[rng.randrange(len(files))]
        link = root / f"srv/links/l{i:04d}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(root / target, link.parent))
    (root / "srv/links/dangling").symlink_to("../does/not/exist")
    for i in range(max(5, plan.files // 400)):
        (root / f"var/spool/empty{i:03d}/sub").mkdir(parents=True)


def _regular_files(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if not path.is_symlink():
                found.append(path)
    return found


def change(root: Path, seed: int) -> dict[str, int]:
    """The change step: modify 1% of files, append to the big log, add 0.5% and delete 0.5%.

    Deterministic for a given tree and seed.  Returns counts for the report.
    """
    rng = random.Random(seed + 1)
    files = _regular_files(root)
    pool = _line_pool(rng, 5_000)
    big_log = root / "var/log/app.log"
    candidates = [f for f in files if f != big_log]
    modified = rng.sample(candidates, max(1, len(files) // 100))
    for path in modified:
        data = bytearray(path.read_bytes())
        if path.suffix in (".bin", ".jpg"):
            at = rng.randrange(max(1, len(data)))
            data[at : at + 4096] = rng.randbytes(4096)
        else:
            at = rng.randrange(len(data) + 1)
            data[at:at] = _text(rng, pool, 512)
        path.write_bytes(bytes(data))
    appended = max(1 << 20, big_log.stat().st_size // 4)
    with open(big_log, "ab") as f:
        f.write(_log(rng, appended, start=1_800_000_000))
    survivors = [f for f in candidates if f not in set(modified)]
    deleted = rng.sample(survivors, max(1, len(files) // 200))
    for path in deleted:
        path.unlink()
    added = max(1, len(files) // 200)
    for i in range(added):
        path = root / f"srv/new/n{i % 7}/added{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_text(rng, pool, int(rng.lognormvariate(9.0, 1.0))))
    return {"modified": len(modified), "appended_bytes": appended, "deleted": len(deleted), "added": added}


def _digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def manifest(root: Path) -> Manifest:
    """Every entry under ``root``: type, permissions, and content hash or link target."""
    entries: Manifest = {}
    to_hash: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            st = path.lstat()
            mode = f"{st.st_mode & 0o7777:o}"
            if path.is_symlink():
                entries[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[rel] = ("dir",)
            else:
                entries[rel] = ("file", mode, str(st.st_size))
                to_hash.append((rel, path))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (rel, _), digest in zip(to_hash, pool.map(lambda item: _digest(item[1]), to_hash), strict=True):
            entries[rel] = (*entries[rel], digest)
    return entries


def differences(expected: Manifest, found: Manifest) -> Iterator[str]:
    """What differs between two manifests, one line per entry."""
    for rel in sorted(expected.keys() | found.keys()):
        want, got = expected.get(rel), found.get(rel)
        if want != got:
            yield f"{rel}: expected {want}, found {got}"


def size_of(root: Path) -> int:
    """Bytes in the regular files under ``root`` (what a repository holds)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def ensure(cache: Path, scale: float, seed: int) -> Path:
    """The pristine tree for (scale, seed), generated once and kept in ``cache``."""
    key = f"dataset-s{scale:g}-seed{seed}"
    root = cache / key
    done = cache / f"{key}.done"
    if root.exists() and done.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    generate(root, scale, seed)
    done.write_text("ok\n")
    return root


def stats(root: Path) -> dict[str, int]:
    files = links = dirs = size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                links += 1
            elif path.is_dir():
                dirs += 1
            else:
                files += 1
                size += path.stat().st_size
    return {"files": files, "symlinks": links, "dirs": dirs, "bytes": size, "mib": math.ceil(size / (1 << 20))}

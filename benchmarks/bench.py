"""Freezer's benchmark: our agent against ``tar | zstd``, ``tar | gzip``, restic, borg and upstream Freezer.

One run, side by side, on one data set (see :mod:`benchmarks.dataset`):

1. every tool makes a full backup of the tree, which is restored into an
   empty directory (on a fresh ext4 file system each time, when the run may
   mount one: see :class:`RestoreTargets`) and compared byte for byte with
   the source;
2. the change step modifies the tree; every tool makes an incremental backup,
   whose chain is restored and compared with the changed tree.

Each number is the median over the repetitions; a ratio is taken inside one
repetition (tool ÷ ``tar | zstd -1`` for backups, ÷ ``zstd -d | tar -x`` for
restores), so machine noise that hits a whole repetition cancels out.  Every
command runs alone (nothing else of ours runs meanwhile), after a ``sync``, and
its peak RSS is the largest of its processes (``wait4``'s ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import dataset  # noqa: E402

DOCS = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- benchmark:begin -->", "<!-- benchmark:end -->"
PASSWORD = "freezer-benchmark-password"


# ---------------------------------------------------------------- measuring


@dataclass
class Measure:
    wall: float
    cpu: float
    rss_mib: float
    rc: int
    log: str = ""


def sh(*cmd: str) -> list[str]:
    """A shell pipeline that fails when any of its commands fails."""
    return ["bash", "-o", "pipefail", "-c", " ".join(cmd)]


TIME = "/usr/bin/time"
"""GNU time: reports the peak RSS of the command it forks (see :func:`measure`)."""


def measure(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 7200) -> Measure:
    """Run ``cmd`` after a ``sync``; wall time, CPU time and peak RSS of its process tree.

    The peak RSS comes from GNU time, not from our own ``wait4``: Linux carries
    the forking process's high-water mark into a child's ``ru_maxrss`` across
    ``exec``, so a command forked by this (large) Python process would report at
    least this process's size.  GNU time is small and forks the command itself.
    """
    os.sync()
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M", "-o", peak.name, *cmd], cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        log = err.read()[-3000:].decode(errors="replace")
        words = peak.read().split()
    rss_kib = int(words[-1]) if words and words[-1].isdigit() else usage.ru_maxrss
    return Measure(wall, usage.ru_utime + usage.ru_stime, rss_kib / 1024, proc.returncode, log)


def run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """An untimed helper command (repository creation, listing); fails loudly."""
    proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


# ---------------------------------------------------------------- tools


class Tool:
    """One contender: how it backs up, restores and where its restore lands."""

    key = ""
    label = ""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.repo = work / "repos" / self.key
        self.env = {**os.environ, "LC_ALL": "C.UTF-8", "TZ": "UTC"}

    def unavailable(self) -> str | None:
        return None

    def prepare(self) -> None:
        """Create an empty repository (untimed)."""
        if self.repo.exists():
            shutil.rmtree(self.repo)
        self.repo.mkdir(parents=True)

    def backup(self, src: Path, level: int) -> Measure:
        raise NotImplementedError

    def restore(self, src: Path, level: int, target: Path) -> Measure:
        raise NotImplementedError

    def restored_root(self, src: Path, target: Path) -> Path:
        nested = target / str(src).lstrip("/")
        return nested if nested.is_dir() else target

    def stored(self) -> int:
        return dataset.size_of(self.repo)

    def cleanup(self) -> None:
        shutil.rmtree(self.repo, ignore_errors=True)


class TarPipe(Tool):
    """GNU tar piped into a compressor: the speed limit every backup tool is measured against."""

    def __init__(self, work: Path, key: str, label: str, compress: str, decompress: str) -> None:
        self.key, self.label = key, label
        super().__init__(work)
        self.compress, self.decompress = compress, decompress

    def backup(self, src: Path, level: int) -> Measure:
        snap = self.repo / "snapshot"
        out = self.repo / f"{level}.tar"
        return measure(sh(f"tar --listed-incremental={snap} --no-check-device -cf - -C {src} .",
                          f"| {self.compress} > {out}"), env=self.env)

    def restore(self, src: Path, level: int, target: Path) -> Measure:
        steps = [f"{self.decompress} < {self.repo}/{n}.tar | tar --listed-incremental=/dev/null -xf - -C {target}"
                 for n in range(level + 1)]
        return measure(sh(" && ".join(steps)), env=self.env)


class Ours(Tool):
    """Our ``freezer-agent``: tar or rsync engine, local storage or S3."""

    def __init__(self, work: Path, compression: str, encrypted: bool, *, engine: str = "tar",
                 s3: S3Server | None = None) -> None:
        self.compression, self.encrypted, self.engine, self.s3 = compression, encrypted, engine, s3
        where = f"{engine}-" if engine != "tar" else ""
        where += "s3-" if s3 else ""
        self.key = f"freezer-{where}{compression}{'-enc' if encrypted else ''}"
        self.label = (f"**freezer** {engine + ' engine, ' if engine != 'tar' else ''}{'S3, ' if s3 else ''}"
                      f"{compression}{' + AES-256-GCM' if encrypted else ''}")
        super().__init__(work)
        self.agent = REPO / ".venv" / "bin" / "freezer-agent"
        self.round = 0

    def unavailable(self) -> str | None:
        if not self.agent.exists():
            return f"{self.agent} missing: run `make install`"
        return self.s3.unavailable() if self.s3 else None

    def container(self) -> str:
        return f"{S3Server.BUCKET}/{self.key}-{self.round}" if self.s3 else str(self.repo / "container")

    def prepare(self) -> None:
        super().prepare()
        self.round += 1  # a fresh S3 prefix per repetition

    def args(self) -> list[str]:
        args = ["--storage", "s3" if self.s3 else "local", "--container", self.container(),
                "--backup-name", "bench", "--hostname", "bench", "--log-file", str(self.repo / "agent.log")]
        if self.s3:
            args += self.s3.flags()
        if self.engine != "tar":
            args += ["--engine", self.engine]
        if self.encrypted:
            pass_file = self.work / "password"
            pass_file.write_text(PASSWORD + "\n")
            args += ["--encrypt-pass-file", str(pass_file)]
        return args

    def command(self) -> list[str]:
        return [str(self.agent)]

    def backup(self, src: Path, level: int) -> Measure:
        return measure([*self.command(), "--action", "backup", "--path-to-backup", str(src), *self.args(),
                        "--compression", self.compression, "--incremental", "--max-level", "3"], env=self.env)

    def restore(self, src: Path, level: int, target: Path) -> Measure:
        return measure([*self.command(), "--action", "restore", *self.args(), "--restore-abs-path", str(target)],
                       env=self.env)

    def stored(self) -> int:
        return self.s3.stored(self.container()) if self.s3 else dataset.size_of(self.repo / "container")

    def cleanup(self) -> None:
        super().cleanup()
        if self.s3:
            self.s3.remove(self.container())


class S3Server:
    """A real SeaweedFS S3 gateway on 127.0.0.1, started and stopped as the tests start theirs."""

    BUCKET = "freezer-bench"
    SCRIPTS = REPO / "tests" / "services"

    def __init__(self, work: Path) -> None:
        self.dir = work / "s3"
        self.env: dict[str, str] = {}
        self._reason: str | None = "not started"

    def unavailable(self) -> str | None:
        return self._reason

    def start(self) -> None:
        from tests.services import free_port, read_env_file

        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        ports: list[int] = []
        while len(ports) < 10:
            port = free_port()
            if port not in ports:
                ports.append(port)
        self._env = {**os.environ, "S3_DIR": str(self.dir), "S3_PORTS": " ".join(map(str, ports))}
        done = subprocess.run(["bash", str(self.SCRIPTS / "s3_start.sh")], env=self._env, capture_output=True,
                              text=True, check=False, timeout=600)
        if done.returncode != 0:
            self._reason = f"SeaweedFS did not start: {(done.stderr or done.stdout).strip()[-300:]}"
            self.stop()
            return
        self.env = read_env_file(self.dir / "env.sh")
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client().list_buckets()
                break
            except Exception as exc:  # noqa: BLE001 - "not ready yet" until the deadline
                if time.monotonic() > deadline:
                    self._reason = f"SeaweedFS never accepted a signed request: {exc}"[:300]
                    return
                time.sleep(0.25)
        self._reason = None

    def stop(self) -> None:
        if hasattr(self, "_env"):
            subprocess.run(["bash", str(self.SCRIPTS / "s3_stop.sh")], env=self._env, capture_output=True,
                           check=False, timeout=120)

    def flags(self) -> list[str]:
        return ["--endpoint", self.env["S3_ENDPOINT"], "--access-key", self.env["S3_ACCESS_KEY"],
                "--secret-key", self.env["S3_SECRET_KEY"]]

    def client(self) -> object:
        import boto3

        return boto3.client("s3", endpoint_url=self.env["S3_ENDPOINT"], region_name="us-east-1",
                            aws_access_key_id=self.env["S3_ACCESS_KEY"],
                            aws_secret_access_key=self.env["S3_SECRET_KEY"])

    def _objects(self, container: str) -> list[dict[str, object]]:
        bucket, _, prefix = container.partition("/")
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
        try:
            return [obj for page in pages for obj in page.get("Contents", [])]
        except Exception:  # noqa: BLE001 - the bucket does not exist yet: nothing stored
            return []

    def stored(self, container: str) -> int:
        return sum(int(obj["Size"]) for obj in self._objects(container))

    def remove(self, container: str) -> None:
        bucket = container.partition("/")[0]
        client = self.client()
        for obj in self._objects(container):
            client.delete_object(Bucket=bucket, Key=obj["Key"])


class Upstream(Ours):
    """OpenStack Freezer 19.0.0 from PyPI, in its own venv, authenticating against a Keystone stub."""

    def __init__(self, work: Path, compression: str = "gzip") -> None:
        super().__init__(work, compression, encrypted=False)
        self.key = f"upstream-{compression}"
        self.label = f"upstream freezer-agent 19.0.0 {compression}"
        self.repo = work / "repos" / self.key
        self._reason: str | None = None
        self._stub: contextlib.ExitStack | None = None
        try:
            from tests.interop.keystone_stub import KeystoneStub
            from tests.interop.upstream import agent_path, ensure_upstream_venv

            venv = ensure_upstream_venv()
            self.agent = agent_path(venv)
            self._stub = contextlib.ExitStack()
            stub = self._stub.enter_context(KeystoneStub())
            home = work / "upstream-home"
            home.mkdir(parents=True, exist_ok=True)
            self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TZ": "UTC",
                        "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", **stub.os_env()}
        except Exception as exc:  # noqa: BLE001 - reported in the table instead of stopping the run
            self._reason = f"upstream venv unavailable: {exc}"[:300]

    def unavailable(self) -> str | None:
        return self._reason


class Restic(Tool):
    key, label = "restic", "restic (zstd auto, AES-256 + Poly1305)"

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.env |= {"RESTIC_PASSWORD": PASSWORD, "RESTIC_CACHE_DIR": str(work / "restic-cache"),
                     "RESTIC_REPOSITORY": str(self.repo)}
        self.snapshots: list[str] = []

    def unavailable(self) -> str | None:
        return None if shutil.which("restic") else "restic is not installed (apt-get install restic)"

    def prepare(self) -> None:
        super().prepare()
        shutil.rmtree(self.work / "restic-cache", ignore_errors=True)
        self.repo.rmdir()
        run(["restic", "init"], env=self.env)
        self.snapshots = []

    def backup(self, src: Path, level: int) -> Measure:
        result = measure(["restic", "backup", "--quiet", "."], cwd=src, env=self.env)
        listing = json.loads(run(["restic", "snapshots", "--json"], env=self.env).stdout or "[]")
        self.snapshots = [s["short_id"] for s in sorted(listing, key=lambda s: s["time"])]
        return result

    def restore(self, src: Path, level: int, target: Path) -> Measure:
        return measure(["restic", "restore", self.snapshots[level], "--target", str(target)], env=self.env)


class Borg(Tool):
    key, label = "borg", "borg 1.2 (lz4, repokey-blake2)"

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.env |= {"BORG_PASSPHRASE": PASSWORD, "BORG_BASE_DIR": str(work / "borg-base"),
                     "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes"}

    def unavailable(self) -> str | None:
        return None if shutil.which("borg") else "borg is not installed (apt-get install borgbackup)"

    def prepare(self) -> None:
        super().prepare()
        shutil.rmtree(self.work / "borg-base", ignore_errors=True)
        self.repo.rmdir()
        run(["borg", "init", "--encryption", "repokey-blake2", str(self.repo)], env=self.env)

    def backup(self, src: Path, level: int) -> Measure:
        return measure(["borg", "create", "--compression", "lz4", f"{self.repo}::level{level}", "."],
                       cwd=src, env=self.env)

    def restore(self, src: Path, level: int, target: Path) -> Measure:
        return measure(["borg", "extract", f"{self.repo}::level{level}"], cwd=target, env=self.env)


def all_tools(work: Path, s3: S3Server) -> list[Tool]:
    return [
        TarPipe(work, "tar-zstd", "`tar \\| zstd -1` (reference)", "zstd -1 -q", "zstd -d -q"),
        TarPipe(work, "tar-gzip", "`tar \\| gzip -6`", "gzip -6", "gzip -d"),
        Ours(work, "zstd", encrypted=True),
        Ours(work, "zstd", encrypted=False),
        Ours(work, "gzip", encrypted=True),
        Ours(work, "gzip", encrypted=False),
        Ours(work, "zstd", encrypted=True, engine="rsync"),
        Ours(work, "zstd", encrypted=True, s3=s3),
        Restic(work),
        Borg(work),
        Upstream(work, "gzip"),
    ]


# ---------------------------------------------------------------- installing


def install(need_upstream: bool) -> None:
    """Install what the run needs: restic, borg, zstd, gzip (apt); isal (pip); the upstream venv."""
    missing = [pkg for tool, pkg in (("restic", "restic"), ("borg", "borgbackup"), ("zstd", "zstd"),
                                     ("gzip", "gzip"), ("tar", "tar"), (TIME, "time")) if not shutil.which(tool)]
    if missing:
        apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q"]
        print(f"installing {' '.join(missing)} with apt-get", flush=True)
        if subprocess.run([*apt, "install", *missing], check=False,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}).returncode != 0:
            subprocess.run([*apt[:-2], "update", "-q"], check=False)
            subprocess.run([*apt, "install", *missing], check=False,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    try:
        import isal  # noqa: F401
    except ImportError:
        print("installing isal (ISA-L gzip) into .venv", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "isal"], check=False)
    if need_upstream:
        print("checking the upstream freezer 19.0.0 venv (built once, takes minutes)", flush=True)


# ---------------------------------------------------------------- the run


@dataclass
class Row:
    tool: Tool
    full: list[Measure] = field(default_factory=list)
    restore: list[Measure] = field(default_factory=list)
    incr: list[Measure] = field(default_factory=list)
    restore_chain: list[Measure] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    restore_ratio: list[float] = field(default_factory=list)
    stored_full: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    error: str = ""


def _check(m: Measure, what: str) -> None:
    if m.rc != 0:
        raise RuntimeError(f"{what} exited {m.rc}: {m.log.strip()[-1500:]}")


def _verify(tool: Tool, src: Path, target: Path, expected: dataset.Manifest) -> str:
    found = dataset.manifest(tool.restored_root(src, target))
    diffs = list(dataset.differences(expected, found))
    return "ok" if not diffs else f"FAILED: {len(diffs)} differences, e.g. {diffs[0][:200]}"


class RestoreTargets:
    """Where each timed restore goes: a fresh ext4 on a loop device when we may mount one, else a directory.

    Why a fresh file system: after a tree of 46,679 files is deleted, ext4
    creating the next tree spends most of its time skipping the recently
    deleted inodes (``recently_deleted`` and ``find_inode_bit`` in ``perf``),
    so the same ``zstd -d | tar -x`` into the benchmark's own disk took 22 to
    49 s depending on how long ago the last delete was.  That measured the
    file system's history, not the tools.  A fresh file system per restore
    gives every tool the same start (4-5 s for that restore).
    """

    def __init__(self, work: Path, data_bytes: int) -> None:
        self.work = work
        self.size = 2 * data_bytes + (1 << 30)  # sparse: only what a restore writes uses disk
        self.fresh = os.geteuid() == 0 and bool(shutil.which("mkfs.ext4"))
        if self.fresh:
            try:
                with self.target():
                    pass
            except (OSError, subprocess.CalledProcessError):
                self.fresh = False

    def describe(self) -> str:
        return ("each restore into a fresh ext4 file system (a loop device), so no tool meets another's deletes"
                if self.fresh else
                "restores into a directory of the work disk (mounting a fresh ext4 needs root): restore "
                "times then depend on the deletes before them")

    @contextlib.contextmanager
    def target(self) -> Iterator[Path]:
        """An empty directory to restore into, gone afterwards."""
        if not self.fresh:
            target = self.work / "restore"
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            try:
                yield target
            finally:
                shutil.rmtree(target, ignore_errors=True)
            return
        image, mount = self.work / "restore.img", self.work / "restore-fs"
        image.unlink(missing_ok=True)
        with open(image, "wb") as f:
            f.truncate(self.size)
        mount.mkdir(exist_ok=True)
        try:
            subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
                            str(image)], check=True, capture_output=True)
            subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True, capture_output=True)
            try:
                target = mount / "restore"
                target.mkdir()
                yield target
            finally:
                subprocess.run(["umount", str(mount)], check=True, capture_output=True)
        finally:
            image.unlink(missing_ok=True)


def _warm(src: Path) -> None:
    """Read the whole tree, so that every backup starts with it in the page cache.

    Not ``tar -cf /dev/null``: GNU tar does not read file contents for that
    archive.  The machine may also evict file pages unused for a minute or so
    (DAMON reclaim on our VMs), which would otherwise favour the tools that
    run soon after the copy.
    """
    subprocess.run(f"tar -cf - -C {shlex.quote(str(src))} . | cat > /dev/null", shell=True, check=False)


def repetition(tools: list[Tool], rows: dict[str, Row], pristine: Path, work: Path, seed: int,
               manifest_a: dataset.Manifest, log: list[str], targets: RestoreTargets) -> None:
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    run(["cp", "-a", str(pristine), str(src)])
    full: dict[str, Measure] = {}
    restored: dict[str, Measure] = {}
    live = []
    for tool in tools:
        row = rows[tool.key]
        try:
            tool.prepare()
            _warm(src)
            m = tool.backup(src, 0)
            _check(m, f"{tool.key} full backup")
            row.full.append(m)
            row.stored_full.append(tool.stored())
            full[tool.key] = m
            with targets.target() as target:
                r = tool.restore(src, 0, target)
                _check(r, f"{tool.key} restore")
                row.restore.append(r)
                restored[tool.key] = r
                row.verified.append(_verify(tool, src, target, manifest_a))
            live.append(tool)
            print(f"  {tool.key:22s} full {m.wall:7.2f}s  restore {r.wall:7.2f}s  "
                  f"rss {m.rss_mib:6.1f} / {r.rss_mib:.1f} MiB  {row.verified[-1]}", flush=True)
        except Exception as exc:  # noqa: BLE001 - one tool failing must not lose the others' numbers
            row.error = str(exc)[:500]
            log.append(f"{tool.key}: {row.error}")
            print(f"  {tool.key:22s} FAILED: {row.error}", flush=True)
            tool.cleanup()
    counts = dataset.change(src, seed)
    if f"change step: {counts}" not in log:  # the same seeded step in every repetition: say it once
        log.append(f"change step: {counts}")
    manifest_b = dataset.manifest(src)
    for tool in live:
        row = rows[tool.key]
        try:
            before = tool.stored()
            _warm(src)
            m = tool.backup(src, 1)
            _check(m, f"{tool.key} incremental backup")
            row.incr.append(m)
            row.added.append(tool.stored() - before)
            with targets.target() as target:
                r = tool.restore(src, 1, target)
                _check(r, f"{tool.key} restore of the chain")
                row.restore_chain.append(r)
                row.verified.append(_verify(tool, src, target, manifest_b))
            print(f"  {tool.key:22s} incr {m.wall:7.2f}s  +{row.added[-1] / 1e6:10.3f} MB  chain restore "
                  f"{r.wall:7.2f}s  {row.verified[-1]}", flush=True)
        except Exception as exc:  # noqa: BLE001
            row.error = str(exc)[:500]
            log.append(f"{tool.key}: {row.error}")
            print(f"  {tool.key:22s} FAILED: {row.error}", flush=True)
        finally:
            tool.cleanup()
    ref, ref_restore = full.get("tar-zstd"), restored.get("tar-zstd")
    for key, m in full.items():
        if ref is not None:
            rows[key].ratio.append(m.wall / ref.wall)
    for key, m in restored.items():
        if ref_restore is not None:
            rows[key].restore_ratio.append(m.wall / ref_restore.wall)
    shutil.rmtree(src, ignore_errors=True)


# ---------------------------------------------------------------- report


def _med(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def machine(load_start: float, load_end: float) -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)

    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            return (out.stdout or out.stderr).splitlines()[0].strip()
        except (OSError, IndexError):
            return "missing"

    try:
        import isal
        isal_version = isal.__version__
    except ImportError:
        isal_version = "missing (zlib used)"
    return "\n".join([
        f"- machine: {cpu}, {os.cpu_count()} CPUs, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- load average (1 min) at the start of the run: {load_start:.2f}, at its end: {load_end:.2f}. "
        "The machine is shared: wall times move with other work, which is why every ratio is taken "
        "within one repetition (tool and reference measured minutes apart) and only those ratios count",
        f"- tools: {version(['tar', '--version'])}; {version(['zstd', '--version'])}; "
        f"{version(['gzip', '--version'])}; {version(['restic', 'version'])}; {version(['borg', '--version'])}; "
        f"isal {isal_version}",
    ])


def table(rows: dict[str, Row], data_bytes: int, reps: int) -> str:
    mb = data_bytes / 1e6
    lines = [
        "| tool | full MB/s | ratio to `tar \\| zstd -1` | full CPU s | stored MB | incremental s | incr. added MB "
        "| restore MB/s | ratio to `zstd -d \\| tar -x` | restore CPU s | chain restore s "
        "| peak RSS MiB (backup / restore) | verified |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows.values():
        if not row.full:
            lines.append(f"| {row.tool.label} |{' – |' * 11} {row.error or 'not run'} |")
            continue
        full = _med([m.wall for m in row.full])
        restore = _med([m.wall for m in row.restore])
        rss_b = max(m.rss_mib for m in row.full + row.incr)
        rss_r = max((m.rss_mib for m in row.restore + row.restore_chain), default=None)
        failed = [v for v in row.verified if v != "ok"]
        verified = ("byte-exact" if not failed and len(row.verified) == 2 * reps
                    else "; ".join(failed) or row.error or "incomplete")
        lines.append(
            f"| {row.tool.label} | {_fmt(mb / full if full else None, '.0f')} | {_fmt(_med(row.ratio), '.2f')} "
            f"| {_fmt(_med([m.cpu for m in row.full]), '.1f')} "
            f"| {_fmt(_med(row.stored_full) / 1e6 if row.stored_full else None, '.0f')} "
            f"| {_fmt(_med([m.wall for m in row.incr]), '.2f')} "
            f"| {_fmt(_med(row.added) / 1e6 if row.added else None, '.1f')} "
            f"| {_fmt(mb / restore if restore else None, '.0f')} | {_fmt(_med(row.restore_ratio), '.2f')} "
            f"| {_fmt(_med([m.cpu for m in row.restore]), '.1f')} "
            f"| {_fmt(_med([m.wall for m in row.restore_chain]), '.2f')} "
            f"| {rss_b:.0f} / {_fmt(rss_r, '.0f')} | {verified} |")
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOCS.read_text() if DOCS.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in doc:
        doc += f"\n{BEGIN}\n{END}\n"
    head, rest = doc.split(BEGIN, 1)
    tail = rest.split(END, 1)[1] if END in rest else ""
    DOCS.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def report(args: argparse.Namespace, rows: dict[str, Row], info: dict[str, int], log: list[str],
           started: dt.datetime, load_start: float, done: int, reps: int) -> str:
    """The results section: what ran, on what, and the table of medians."""
    return "\n".join([
        f"Run of {started:%Y-%m-%d %H:%M} UTC: `benchmarks/run{' --quick' if args.quick else ''}"
        f"{f' --scale {args.scale:g}' if args.scale else ''}{f' --reps {args.reps}' if args.reps else ''}"
        f"{f' --tools {args.tools}' if args.tools else ''}`, "
        f"{done} of {reps} repetition(s) done, medians; finished {dt.datetime.now(dt.UTC):%H:%M} UTC.",
        "",
        machine(load_start, os.getloadavg()[0]),
        f"- data set: seed {args.seed}, {info['bytes'] / (1 << 30):.2f} GiB in {info['files']} files, "
        f"{info['symlinks']} symlinks, {info['dirs']} directories",
        "",
        table(rows, info["bytes"], done),
        "",
        *(f"- {line}" for line in log),
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="64 MiB data set, 1 repetition, results not written to docs (for development)")
    parser.add_argument("--scale", type=float, default=None,
                        help="data set size in GiB (default 1; 10 for the large run)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3, --quick: 1)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tools", default="", help="comma-separated tool keys to run (default: all); "
                        "tar-zstd is always run, as the reference")
    parser.add_argument("--workdir", type=Path,
                        default=Path(os.environ.get("FREEZER_BENCH_DIR", Path.home() / ".cache" / "freezer-bench")))
    parser.add_argument("--no-install", action="store_true", help="do not install missing tools")
    parser.add_argument("--docs", action=argparse.BooleanOptionalAction, default=None,
                        help="write the table to docs/performance.md (default: yes, except with --quick)")
    args = parser.parse_args(argv)
    scale = args.scale if args.scale is not None else (1 / 16 if args.quick else 1.0)
    reps = args.reps or (1 if args.quick else 3)
    write = args.docs if args.docs is not None else not args.quick
    work = args.workdir.expanduser().absolute()
    if REPO in work.parents or work == REPO:
        parser.error("--workdir must be outside the repository")
    work.mkdir(parents=True, exist_ok=True)

    wanted = {k for k in args.tools.split(",") if k}
    if not args.no_install:
        install(need_upstream=not wanted or any(k.startswith("upstream") for k in wanted))
    s3 = S3Server(work)
    tools = [t for t in all_tools(work, s3) if not wanted or t.key in wanted or t.key == "tar-zstd"]
    if any(isinstance(t, Ours) and t.s3 for t in tools):
        print("starting SeaweedFS (S3) for the S3 rows", flush=True)
        s3.start()
    try:
        return _run(args, work, scale, reps, write, tools)
    finally:
        s3.stop()


def _run(args: argparse.Namespace, work: Path, scale: float, reps: int, write: bool, tools: list[Tool]) -> int:
    started = dt.datetime.now(dt.UTC)
    load_start = os.getloadavg()[0]
    rows = {t.key: Row(t) for t in tools}
    tools_run = []
    for tool in tools:
        reason = tool.unavailable()
        if reason:
            rows[tool.key].error = reason
            print(f"skipping {tool.key}: {reason}", flush=True)
        else:
            tools_run.append(tool)

    print(f"data set: {scale:g} GiB, seed {args.seed}, in {work}", flush=True)
    t0 = time.perf_counter()
    pristine = dataset.ensure(work, scale, args.seed)
    info = dataset.stats(pristine)
    print(f"  {info} ({time.perf_counter() - t0:.0f} s)", flush=True)
    need = info["bytes"] * (2 + len(tools_run))
    free = shutil.disk_usage(work).free
    if free < need:
        print(f"warning: {free / 1e9:.0f} GB free in {work}, the run may need about {need / 1e9:.0f} GB", flush=True)
    manifest_a = dataset.manifest(pristine)
    targets = RestoreTargets(work, info["bytes"])
    log: list[str] = [targets.describe()]
    print(f"restores: {targets.describe()}", flush=True)
    result = work / ("results-quick.md" if args.quick else f"results-s{scale:g}.md")
    for rep in range(reps):
        print(f"repetition {rep + 1}/{reps}", flush=True)
        repetition(tools_run, rows, pristine, work, args.seed, manifest_a, log, targets)
        # Written after every repetition, so a run cut short still leaves its numbers.
        text = report(args, rows, info, log, started, load_start, rep + 1, reps)
        result.write_text(text + "\n")
        if write:
            write_docs(text)
    print("\n" + text, flush=True)
    print(f"\nwritten to {result}{f' and {DOCS}' if write else ''}", flush=True)
    failed = any(row.error or any(v != "ok" for v in row.verified) for row in rows.values())
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())

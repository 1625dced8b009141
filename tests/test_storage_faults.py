"""A storage server killed in the middle of an upload (S3, SSH, and Swift's proxy).

For each remote storage a private server is started (the session's shared
one must not be killed), a first backup is made, then a large backup is
slowed down with ``--upload-limit`` and the server is killed while it runs.
The agent must fail with one clear line after its retries, nothing
half-written may be picked by a restore, the earlier backup must still
restore once the server is back, and the next backup must succeed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from freezer_core.testing.trees import tree_state
from tests.services import Service, free_port, read_env_file, start_service
from tests.services.s3 import _free_ports, _wait_until_signed_requests_work, _weed_binary

AGENT = str(Path(sys.executable).with_name("freezer-agent"))
MiB = 1024 * 1024


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _kill_tree(pid: int) -> None:
    for child in _children(pid):
        _kill_tree(child)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *args, "--log-file", os.devnull], capture_output=True, text=True, timeout=300)


def _scenario(tmp_path: Path, storage_args: Callable[[], list[str]], kill: Callable[[], None],
              restart: Callable[[], None]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "small.txt").write_text("before the crash\n")
    common = ["--path-to-backup", str(src), "--backup-name", "fault", "--hostname", "h", "--incremental",
              "--max-level", "5", "--compression", "none", "--max-segment-size", "5M"]
    first = _agent(*storage_args(), *common)
    assert first.returncode == 0, first.stderr
    expected = tree_state(src)

    (src / "big.bin").write_bytes(os.urandom(40 * MiB))
    slow = subprocess.Popen([AGENT, *storage_args(), *common, "--upload-limit", "4M", "--log-file", os.devnull],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # well inside the ~10 s the throttled upload needs
    assert slow.poll() is None, "the throttled backup ended before the server was killed"
    kill()
    _, stderr = slow.communicate(timeout=240)
    assert slow.returncode == 3, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr

    restart()
    (src / "big.bin").unlink()
    out = tmp_path / "restored"
    done = _agent(*storage_args(), "--action", "restore", "--restore-abs-path", str(out), "--backup-name", "fault",
                  "--hostname", "h")
    assert done.returncode == 0, done.stderr
    assert tree_state(out) == expected  # the interrupted backup is invisible

    (src / "after.txt").write_text("after the restart\n")
    again = _agent(*storage_args(), *common)
    assert again.returncode == 0, again.stderr
    out2 = tmp_path / "restored2"
    done = _agent(*storage_args(), "--action", "restore", "--restore-abs-path", str(out2), "--backup-name", "fault",
                  "--hostname", "h")
    assert done.returncode == 0, done.stderr
    assert tree_state(out2) == tree_state(src)


def test_s3_server_killed_mid_upload(tmp_path: Path) -> None:
    directory = tmp_path / "s3"
    ports = " ".join(map(str, _free_ports(10)))
    env = {"S3_DIR": str(directory), "S3_PORTS": ports, **({"WEED": w} if (w := _weed_binary()) else {})}
    # Every start's context manager stays referenced until the end: a collected one would run the
    # stop script and kill the restarted server.
    started: list[Any] = []

    def start() -> None:
        (directory / "weed.pid").unlink(missing_ok=True)
        for stale in directory.glob("*.sock"):  # left by the killed server; they would block its restart
            stale.unlink()
        cm = start_service("s3", directory, env)
        service: Service = cm.__enter__()
        started.append(cm)
        _wait_until_signed_requests_work(service)

    def storage_args() -> list[str]:
        e = read_env_file(directory / "env.sh")
        return ["--storage", "s3", "--container", "faults/prefix", "--endpoint", e["S3_ENDPOINT"],
                "--access-key", e["S3_ACCESS_KEY"], "--secret-key", e["S3_SECRET_KEY"]]

    def kill() -> None:
        _kill_tree(int((directory / "weed.pid").read_text()))

    start()
    try:
        _scenario(tmp_path, storage_args, kill, start)
    finally:
        started[-1].__exit__(None, None, None)


def test_ssh_server_killed_mid_upload(tmp_path: Path) -> None:
    directory = tmp_path / "sshd"
    env = {"SSHD_DIR": str(directory), "SSHD_PORT": str(free_port())}
    with start_service("sshd", directory, env) as service:
        e = service.env

        def storage_args() -> list[str]:
            return ["--storage", "ssh", "--container", "faults", "--ssh-host", e["SSH_TEST_HOST"], "--ssh-port",
                    e["SSH_TEST_PORT"], "--ssh-username", e["SSH_TEST_USER"], "--ssh-key", e["SSH_TEST_KEY"],
                    "--ssh-known-hosts", e["SSH_TEST_KNOWN_HOSTS"]]

        def kill() -> None:  # the listener and every session it forked
            _kill_tree(int((directory / "launcher.pid").read_text()))

        def restart() -> None:
            with open(directory / "sshd.log", "ab") as log:
                proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(directory / "sshd_config")],
                                        stdout=log, stderr=log, start_new_session=True)
            (directory / "launcher.pid").write_text(str(proc.pid))
            for _ in range(100):
                try:
                    import socket

                    socket.create_connection(("127.0.0.1", int(e["SSH_TEST_PORT"])), timeout=1).close()
                    return
                except OSError:
                    time.sleep(0.1)
            pytest.fail("sshd did not come back")

        _scenario(tmp_path, storage_args, kill, restart)


def test_swift_proxy_killed_mid_upload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.services.swift import _free_ports as swift_ports

    directory = tmp_path / "swift"
    proxy, obj, cont, acct, memcached = swift_ports(5)
    env = {"SWIFT_DIR": str(directory), "SWIFT_PROXY_PORT": str(proxy), "SWIFT_OBJECT_PORT": str(obj),
           "SWIFT_CONTAINER_PORT": str(cont), "SWIFT_ACCOUNT_PORT": str(acct),
           "SWIFT_MEMCACHED_PORT": str(memcached), "SWIFT_WORKERS": "0",
           "SWIFT_USER": "fault:tester", "SWIFT_KEY": "faultkey"}
    with start_service("swift", directory, env) as service:
        e = service.env

        def storage_args() -> list[str]:
            return ["--storage", "swift", "--container", "faults"]

        def kill() -> None:
            _kill_tree(int((directory / "run" / "proxy.pid").read_text()))

        def restart() -> None:
            with open(directory / "log" / "proxy.log", "ab") as log:
                proc = subprocess.Popen(["/usr/bin/swift-proxy-server", str(directory / "etc" / "proxy-server.conf"),
                                         "-v"], stdout=log, stderr=log, start_new_session=True)
            (directory / "run" / "proxy.pid").write_text(str(proc.pid))
            import urllib.request

            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{proxy}/healthcheck", timeout=2)
                    return
                except OSError:
                    time.sleep(0.2)
            pytest.fail("the swift proxy did not come back")

        for key in ("ST_AUTH", "ST_USER", "ST_KEY"):  # the agent reads tempauth credentials from these
            monkeypatch.setenv(key, e[key])
        _scenario(tmp_path, storage_args, kill, restart)

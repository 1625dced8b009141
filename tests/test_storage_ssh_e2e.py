"""freezer-agent end to end on the ssh storage, against the session's real OpenSSH server.

Full and incremental backups, a byte-identical restore, ``info``, and the
one-line refusals a user sees for an unknown host key or wrong credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from freezer_core.testing.trees import tree_state
from tests.services import Service

AGENT = str(Path(sys.executable).with_name("freezer-agent"))


def agent(server: Service, tmp_path: Path, *args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = server.env
    ssh = {"--ssh-host": env["SSH_TEST_HOST"], "--ssh-port": env["SSH_TEST_PORT"],
           "--ssh-username": env["SSH_TEST_USER"], "--ssh-key": env["SSH_TEST_KEY"],
           "--ssh-known-hosts": env["SSH_TEST_KNOWN_HOSTS"]}
    ssh |= {"--" + k.replace("_", "-"): v for k, v in overrides.items()}
    argv = [AGENT, "--storage", "ssh", "--container", "e2e-backups", "--backup-name", "e2e",
            "--hostname", "h1", "--log-file", str(tmp_path / "freezer.log"), *args]
    for flag, value in ssh.items():
        argv += [flag, value]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          env=os.environ | {"FREEZER_DISABLE_PLUGIN_AUTOLOAD": "1"})


def ok(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 3, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("freezer-agent: error: ") and "Traceback" not in done.stderr
    return lines[0]


def test_full_incremental_restore_and_info(sshd_server: Service, tmp_path: Path, sample_tree: Path) -> None:
    backup = ("--path-to-backup", str(sample_tree), "--incremental", "--max-level", "3", "--metadata-out", "-")
    first = ok(agent(sshd_server, tmp_path, *backup))
    assert first["curr_backup_level"] == 0

    (sample_tree / "d0" / "nested" / "t1.txt").write_text("changed")
    (sample_tree / "added.txt").write_text("new")
    (sample_tree / "d1" / "nested" / "t2.txt").unlink()
    second = ok(agent(sshd_server, tmp_path, *backup))
    assert second["curr_backup_level"] == 1
    expected = tree_state(sample_tree)

    out = tmp_path / "restored"
    ok(agent(sshd_server, tmp_path, "--action", "restore", "--restore-abs-path", str(out), "--metadata-out", "-"))
    assert tree_state(out) == expected

    info = ok(agent(sshd_server, tmp_path, "--action", "info", "--metadata-out", "-"))
    [entry] = [b for b in info["backups"] if b["backup_name"] == "h1_e2e"]  # type: ignore[attr-defined]
    assert entry["backups"] == 2 and entry["chains"] == 1

    # The container is a directory under the SFTP login directory, in upstream's layout.
    container = Path(sshd_server.env["SSH_TEST_ROOT"]) / "e2e-backups"
    assert len(list((container / "metadata" / "tar" / "h1_e2e").iterdir())) == 1
    assert not list(container.rglob("*.part"))


def test_unknown_host_key_is_one_line_and_exit_3(sshd_server: Service, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    line = one_line_error(agent(sshd_server, tmp_path, "--action", "info", ssh_known_hosts=str(known_hosts)))
    assert f"ssh-keyscan -p {sshd_server.env['SSH_TEST_PORT']} 127.0.0.1 >> {known_hosts}" in line


@pytest.mark.parametrize("wrong", ["username", "key"])
def test_wrong_credentials_are_one_line_and_exit_3(sshd_server: Service, tmp_path: Path, wrong: str) -> None:
    if wrong == "key":
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
        overrides = {"ssh_key": str(tmp_path / "k")}
    else:
        overrides = {"ssh_username": "nobody-here"}
    line = one_line_error(agent(sshd_server, tmp_path, "--path-to-backup", str(tmp_path), **overrides))
    assert "refused user" in line

"""The real ``freezer-agent`` against a real Swift (tempauth credentials in ``ST_*``).

Full + incremental backups to the default container, a byte-identical
restore, ``--action info``, upstream's object layout, and a wrong key that
ends in one line on stderr and exit code 3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from swiftclient.client import Connection

from freezer_core.testing.trees import tree_state
from tests.services import Service

AGENT = Path(sys.executable).parent / "freezer-agent"
HOST = "e2e-host"


def _env(service: Service, home: Path, **overrides: str) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8",
            "FREEZER_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return base | {k: v for k, v in service.env.items() if k.startswith("ST_")} | overrides


def _agent(env: dict[str, str], tmp: Path, *args: str) -> dict[str, Any]:
    out = tmp / f"record-{uuid.uuid4().hex[:6]}.json"
    proc = subprocess.run([str(AGENT), *args, "--storage", "swift", "--hostname", HOST,
                           "--log-file", str(tmp / "agent.log"), "--metadata-out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    record: dict[str, Any] = json.loads(out.read_text())
    return record


def test_backup_incremental_restore_and_info(swift_server: Service, sample_tree: Path, tmp_path: Path) -> None:
    env = _env(swift_server, tmp_path / "home")
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    backup = ["--path-to-backup", str(sample_tree), "--backup-name", name, "--incremental", "--max-level", "3",
              "--max-segment-size", "65536"]  # several segments per level

    first = _agent(env, tmp_path, *backup)  # no --container: upstream's default
    assert first["curr_backup_level"] == 0 and first["container"] == "freezer_backups"
    (sample_tree / "d0" / "nested" / "t1.txt").write_text("changed")
    (sample_tree / "added.bin").write_bytes(os.urandom(150_000))
    (sample_tree / "d1" / "nested" / "t2.txt").unlink()
    second = _agent(env, tmp_path, *backup)
    assert second["curr_backup_level"] == 1
    expected = tree_state(sample_tree)

    out = tmp_path / "restored"
    _agent(env, tmp_path, "--action", "restore", "--backup-name", name, "--restore-abs-path", str(out))
    assert tree_state(out) == expected

    info = _agent(env, tmp_path, "--action", "info")
    [entry] = [b for b in info["backups"] if b["backup_name"] == f"{HOST}_{name}"]
    assert entry["chains"] == 1 and entry["backups"] == 2

    # Upstream's layout in the default container: a 0-byte DLO manifest and segments/%08d beside it.
    conn = Connection(authurl=env["ST_AUTH"], user=env["ST_USER"], key=env["ST_KEY"], retries=0)
    level0 = f"data/tar/{HOST}_{name}/{first['time_stamp']}/0_{first['time_stamp']}"
    headers = conn.head_object("freezer_backups", f"{level0}/data")
    assert headers["x-object-manifest"] == f"freezer_backups/{level0}/segments/"
    listing = conn.get_container("freezer_backups", prefix=f"{level0}/", full_listing=True)[1]
    names = {o["name"]: o["bytes"] for o in listing}
    assert names[f"{level0}/data"] == 0
    assert f"{level0}/segments/00000000" in names and f"{level0}/segments/00000001" in names
    assert f"{level0}/engine_metadata" in names
    conn.close()


def test_wrong_key_is_one_line_and_exit_3(swift_server: Service, tmp_path: Path) -> None:
    env = _env(swift_server, tmp_path / "home", ST_KEY="definitely-wrong")
    proc = subprocess.run([str(AGENT), "--action", "info", "--storage", "swift", "--container", "fz-denied",
                           "--log-file", str(tmp_path / "agent.log")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Swift refused the credentials" in lines[0] and "ST_USER/ST_KEY" in lines[0]
    assert "Traceback" not in proc.stderr and "definitely-wrong" not in proc.stderr

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
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
    start_service_and_ui(src, container, pass_file, [full, incr])


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


def api_call(url: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"X-Auth-Token": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code == 409 and path.endswith("/clients"):
            return {}  # the scheduler registered it first
        sys.exit(f"demo failed: {method} {path} answered {exc.code}: {exc.read().decode(errors='replace')}")


def start_service_and_ui(src: Path, container: Path, pass_file: Path, records: list[dict]) -> None:
    """freezer-api with the web UI and a freezer-scheduler, left running for the user to explore."""
    token, port = secrets.token_hex(16), free_port(9090)
    url = f"http://127.0.0.1:{port}"
    (OUT / "tokens.ini").write_text(f"[user:demo]\ntoken = {token}\nproject_id = demo\nroles = member\n")
    (OUT / "tokens.ini").chmod(0o600)
    (OUT / "freezer-api.conf").write_text(
        f"[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\n\n"
        f"[database]\nconnection = sqlite:///{OUT / 'freezer.sqlite'}\n\n"
        f"[embedded_auth]\ntokens_file = {OUT / 'tokens.ini'}\n")
    bin_dir = Path(AGENT).parent
    with open(OUT / "freezer-api.log", "wb") as log:
        api = subprocess.Popen([str(bin_dir / "freezer-api"), "--config-file", str(OUT / "freezer-api.conf")],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (OUT / "freezer-api.pid").write_text(str(api.pid))
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/healthcheck", timeout=2)
            break
        except OSError:
            if api.poll() is not None:
                sys.exit(f"demo failed: freezer-api did not start, see {OUT / 'freezer-api.log'}")
            time.sleep(0.5)
    env = os.environ | {"OS_BACKUP_URL": url, "OS_TOKEN": token, "OS_PROJECT_ID": "demo"}
    subprocess.run([str(bin_dir / "freezer-scheduler"), "start", "--client-id", "demo_demo-host", "--interval", "5",
                    "--pidfile", str(OUT / "freezer-scheduler.pid"), "--state-dir", str(OUT / "scheduler"),
                    "--log-file", str(OUT / "freezer-scheduler.log")], env=env, check=True)
    api_call(url, token, "POST", "/v2/demo/clients", {"client_id": "demo_demo-host", "hostname": "demo-host"})
    for record in records:
        api_call(url, token, "POST", "/v2/demo/backups", record | {"job_id": ""})
    action = {"action": "backup", "mode": "fs", "path_to_backup": str(src), "storage": "local",
              "container": str(container), "backup_name": "scheduled", "hostname": "demo-host",
              "compression": "zstd", "encrypt_pass_file": str(pass_file), "incremental": True, "max_level": 5}
    job = api_call(url, token, "POST", "/v2/demo/jobs", {
        "client_id": "demo_demo-host", "description": "demo: every 10 minutes",
        "job_actions": [{"freezer_action": action, "max_retries": 2, "max_retries_interval": 30}],
        "job_schedule": {"schedule_interval": "10 minutes"}})
    api_call(url, token, "POST", f"/v2/demo/jobs/{job['job_id']}/event", {"start": None})
    print(f"""
freezer-api and freezer-scheduler are running (logs in {OUT}):
  Web UI:      {url}/ui/
  Login token: {token}
  CLI:         OS_BACKUP_URL={url} OS_TOKEN={token} OS_PROJECT_ID=demo .venv/bin/freezer job-list
Stop them with: make demo-stop""")


if __name__ == "__main__":
    main()

"""What ``freezer <resource>-<verb>`` prints: python-freezerclient 6.5.0's columns, names and defaults.

Kept apart from the commands so that the rows can be compared with the real
client's, column for column (tests/api/test_freezerclient.py runs it).  Where
the real client prints a wrong value (``backup-show``'s ``Backup ID`` read from
an absent ``backup_uuid``), ours prints the right one under the same name.
"""

from __future__ import annotations

import datetime
import json
import pprint
from typing import Any

import click

Pairs = list[tuple[str, Any]]


def show_rows(fmt: str, columns: list[str], rows: list[list[Any]]) -> None:
    if fmt == "json":
        click.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=2, default=str))
        return
    text = [columns] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(line) for r in text for line in (r[i].splitlines() or [""])) for i in range(len(columns))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    click.echo(rule)
    for i, row in enumerate(text):
        cells = [c.splitlines() or [""] for c in row]
        for n in range(max(len(c) for c in cells)):
            click.echo("| " + " | ".join((c[n] if n < len(c) else "").ljust(w)
                                         for c, w in zip(cells, widths, strict=True)) + " |")
        if i == 0:
            click.echo(rule)
    click.echo(rule)


def show_item(fmt: str, pairs: Pairs) -> None:
    if fmt == "json":
        click.echo(json.dumps(dict(pairs), indent=2, default=str))
        return
    show_rows("table", ["Field", "Value"], [[k, v] for k, v in pairs])


def client_item(c: dict[str, Any]) -> Pairs:
    return [("Client ID", c.get("client_id")), ("Client UUID", c.get("uuid")), ("hostname", c.get("hostname")),
            ("description", c.get("description", ""))]


CLIENT_COLUMNS = ["Client ID", "uuid", "hostname", "description"]


def client_row(c: dict[str, Any]) -> list[Any]:
    return [c.get("client_id", ""), c.get("uuid", ""), c.get("hostname", ""), c.get("description", "")]


JOB_COLUMNS = ["Job ID", "Description", "# Actions", "Result", "Status", "Event", "Session ID"]


def job_row(j: dict[str, Any]) -> list[Any]:
    s = j.get("job_schedule", {})
    return [j.get("job_id"), j.get("description"), len(j.get("job_actions", [])), s.get("result", ""),
            s.get("status", ""), s.get("event", ""), j.get("session_id", "")]


def job_item(j: dict[str, Any], fmt: str) -> Pairs:
    s = j.get("job_schedule", {})
    actions = j.get("job_actions") if fmt == "json" else pprint.pformat(j.get("job_actions"))
    return [("Job ID", j.get("job_id")), ("Client ID", j.get("client_id")), ("User ID", j.get("user_id")),
            ("Session ID", j.get("session_id", "")), ("Description", j.get("description")), ("Actions", actions),
            ("Start Date", s.get("schedule_start_date", "")), ("End Date", s.get("schedule_end_date", "")),
            ("Interval", s.get("schedule_interval", "")), ("Status", s.get("status", "")),
            ("Result", s.get("result", "")), ("Current pid", s.get("current_pid", "")), ("Event", s.get("event", ""))]


ACTION_COLUMNS = ["Action ID", "Name", "Action", "Path to Backup or Restore", "Mode", "Storage", "snapshot"]


def action_row(a: dict[str, Any]) -> list[Any]:
    f = a.get("freezer_action", {})
    return [a.get("action_id"), f.get("backup_name", ""), f.get("action", "backup"), f.get("path_to_backup", ""),
            f.get("mode", "fs"), f.get("storage", "swift"), f.get("snapshot", "False")]


def action_item(a: dict[str, Any]) -> Pairs:
    f = a.get("freezer_action", {})
    return [("Action ID", a.get("action_id")), ("Name", f.get("backup_name", "")),
            ("Action", f.get("action", "backup")), ("Mode", f.get("mode", "fs")),
            ("Path to Backup or Restore", f.get("path_to_backup", "")), ("Storage", f.get("storage", "swift")),
            ("Snapshot", f.get("snapshot", "False")), ("Container", f.get("container", "")),
            ("Log_file", f.get("log_file", "")), ("Remove_older_than", f.get("remove_older_than", "365")),
            ("Max_retries_interval", a.get("max_retries_interval", "6")), ("Max_retries", a.get("max_retries", "5")),
            ("User_id", a.get("user_id", "")), ("Project_id", a.get("project_id", ""))]


SESSION_COLUMNS = ["Session ID", "Description", "Status", "Result", "# Jobs"]


def session_row(s: dict[str, Any]) -> list[Any]:
    return [s.get("session_id", ""), s.get("description", ""), s.get("status", ""), s.get("result", ""),
            len(s.get("jobs") or {})]


def session_item(s: dict[str, Any], fmt: str) -> Pairs:
    def nested(v: Any) -> Any:
        return v if fmt == "json" else pprint.pformat(v)

    return [("Session ID", s.get("session_id")), ("Session tag", s.get("session_tag")),
            ("Description", s.get("description")), ("Status", s.get("status")), ("Result", s.get("result")),
            ("Jobs", nested(s.get("jobs"))), ("Hold off", s.get("hold_off")), ("Schedule", nested(s.get("schedule"))),
            ("Last start", s.get("last_start")), ("Time start", s.get("time_start")), ("Time end", s.get("time_end")),
            ("Project id", s.get("project_id")), ("User id", s.get("user_id"))]


BACKUP_COLUMNS = ["Backup ID", "Backup UUID", "Hostname", "Path", "Created at", "Status", "Level"]


def _created(stamp: Any) -> str:
    """Local time of the ``time_stamp`` (as the real client shows it), or the raw value if it is not one."""
    try:
        return str(datetime.datetime.fromtimestamp(int(stamp)))
    except (TypeError, ValueError, OverflowError, OSError):
        return "" if stamp is None else str(stamp)


def backup_rows(found: list[dict[str, Any]]) -> list[list[Any]]:
    """Oldest first, as the real client sorts; a backup without ``time_stamp`` sorts first (it crashes)."""
    def stamp(b: dict[str, Any]) -> int:
        try:
            return int(b.get("backup_metadata", {}).get("time_stamp"))
        except (TypeError, ValueError):
            return -1

    rows = []
    for b in sorted(found, key=stamp):
        m = b.get("backup_metadata", {})
        rows.append([b.get("backup_id", ""), b.get("backup_uuid", ""), m.get("hostname", ""),
                     m.get("path_to_backup", ""), _created(m.get("time_stamp")), b.get("status", ""),
                     m.get("curr_backup_level", "")])
    return rows


def backup_item(b: dict[str, Any], fmt: str) -> Pairs:
    meta = b.get("backup_metadata") if fmt == "json" else pprint.pformat(b.get("backup_metadata"))
    return [("Backup ID", b.get("backup_id")), ("Project ID", b.get("project_id")), ("User ID", b.get("user_id")),
            ("Status", b.get("status")), ("Metadata", meta)]

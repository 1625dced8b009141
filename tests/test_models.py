"""Actions and API documents: typing, helpers and lossless JSON round trips."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freezer_core.errors import ValidationError
from freezer_core.models import Action, BackupRecord, Client, Job, JobAction, Session
from freezer_core.options import BY_DEST, OPTIONS, Option

# ---------------------------------------------------------------- strategies

_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and s not in ("None",))
_dates = st.sampled_from(["2019-10-19T00:29:27", "2024-01-02", "2024-01-02 03:04:05Z",
                          "2024-01-02T03:04:05+02:00"])


def _typed(opt: Option) -> st.SearchStrategy[Any]:
    """Values of the option's own type, as an Action holds them."""
    if opt.choices:
        return st.sampled_from(opt.choices).filter(lambda c: c not in ("mongo", "sqlserver"))
    return {"bool": st.booleans(), "int": st.integers(-5, 10**6), "size": st.integers(-1, 2**40),
            "float": st.floats(0, 1e6, allow_nan=False), "date": _dates}.get(opt.type, _text)


def _upstream(opt: Option) -> st.SearchStrategy[Any]:
    """Values as upstream documents and INI files write them: strings, False for unset, ..."""
    if opt.type == "bool":
        return st.sampled_from([True, False, "true", "false", "True", "False"])
    if opt.type in ("int", "size"):
        extra = st.sampled_from(["10M", "1K", "2G"]) if opt.type == "size" else st.nothing()
        return st.one_of(st.integers(0, 10**6), st.integers(0, 999).map(str), extra, st.just(False))
    if opt.type == "float":
        return st.one_of(st.integers(0, 100), st.floats(0, 100, allow_nan=False), st.just(False))
    return st.one_of(_typed(opt), st.just(False), st.none())


_json = st.recursive(st.none() | st.booleans() | st.integers() | _text,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=5)
_extra_keys = st.text("abcxyz_", min_size=1, max_size=8).map(lambda s: "plugin_" + s)


@st.composite
def actions(draw: st.DrawFn) -> Action:
    chosen = draw(st.lists(st.sampled_from(OPTIONS), max_size=12, unique_by=lambda o: o.dest))
    values = {o.dest: draw(_typed(o)) for o in chosen}
    extra = draw(st.dictionaries(_extra_keys, _json, max_size=3))
    return Action(**values, extra=extra)


@st.composite
def upstream_action_docs(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(OPTIONS), max_size=12, unique_by=lambda o: o.dest))
    doc = {o.dest: draw(_upstream(o)) for o in chosen}
    doc.update(draw(st.dictionaries(_extra_keys, _json, max_size=3)))
    return doc


# ---------------------------------------------------------------- Action: shape and typing


def test_action_fields_are_the_options_table() -> None:
    fields = [f for f in dataclasses.fields(Action) if f.init and f.name != "extra"]
    assert [f.name for f in fields] == [o.dest for o in OPTIONS]
    action = Action()
    for opt in OPTIONS:
        assert action[opt.dest] == opt.default_value(), opt.dest


def test_defaults_are_upstreams() -> None:
    action = Action()
    assert (action.action, action.mode, action.engine_name, action.storage) == ("backup", "fs", "tar", "swift")
    assert (action.container, action.compression, action.max_segment_size) == (
        "freezer_backups", "gzip", 8388608)  # upstream: 32 MiB; ours keeps two segments under 100 MiB
    assert (action.rsync_block_size, action.timeout, action.ssh_port) == (4096, 120, 22)
    assert action.hostname == socket.gethostname()
    assert action.ssh_key == "~/.ssh/id_rsa"
    assert action.encrypt_format == "freezer"
    assert (action.upload_limit, action.download_limit) == (-1, -1)


def test_from_dict_normalises_keys_and_coerces_values() -> None:
    action = Action.from_dict({"backup-name": "web", "engine": "nova", "no_incremental": "true",
                               "max-segment-size": "64M", "timeout": "30", "upload_limit": "10M",
                               "dry_run": "False", "max_level": None, "my_plugin_opt": 3})
    assert action.backup_name == "web"
    assert action.engine_name == "nova"
    assert action.no_incremental is True
    assert action.max_segment_size == 64 * 1024 * 1024
    assert action.timeout == 30
    assert action.upload_limit == 10 * 1024 * 1024
    assert action.dry_run is False
    assert action.max_level is None
    assert action.extra == {"my_plugin_opt": 3}
    assert action["my_plugin_opt"] == 3
    assert action["backup-name"] == "web"


@pytest.mark.parametrize("doc, message", [
    ({"timeout": "soon"}, "--timeout"),
    ({"max_segment_size": "lots"}, "--max-segment-size"),
    ({"dry_run": "perhaps"}, "--dry-run"),
])
def test_bad_values_name_the_option(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Action.from_dict(doc)


def test_upstream_names_of_modes_map_to_our_plugins() -> None:
    assert Action.from_dict({"mode": "mongo"}).mode == "mongodb"
    assert Action.from_dict({"mode": "sqlserver"}).mode == "mssql"


def test_action_is_a_read_only_mapping() -> None:
    action = Action.from_dict({"path_to_backup": "/srv", "plugin_x": 1})
    assert len(action) == len(OPTIONS) + 1
    assert list(action)[-1] == "plugin_x"
    assert action.get("path_to_backup") == "/srv"
    assert action.get("nope", "d") == "d"
    assert "plugin_x" in action
    with pytest.raises(TypeError):
        action["mode"] = "nova"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        action.mode = "nova"  # type: ignore[misc]


def test_extra_may_not_shadow_an_option() -> None:
    with pytest.raises(ValidationError, match="backup-name"):
        Action(extra={"backup-name": "x"})


def test_repr_and_masked_hide_secrets() -> None:
    action = Action.from_dict({"ssh_password": "hunter2", "secret_key": "s3", "plugin_token": "t0k",
                               "path_to_backup": "/srv"})
    assert "hunter2" not in repr(action) and "s3" not in repr(action) and "t0k" not in repr(action)
    assert action.masked()["ssh_password"] == "***"
    assert action.masked()["path_to_backup"] == "/srv"


def test_replace_keeps_the_rest() -> None:
    action = Action.from_dict({"path_to_backup": "/srv", "plugin_x": 1})
    changed = action.replace(**{"backup-name": "b", "dry_run": True})
    assert (changed.backup_name, changed.dry_run, changed.path_to_backup) == ("b", True, "/srv")
    assert changed.extra == {"plugin_x": 1}


# ---------------------------------------------------------------- Action: round trips


@settings(max_examples=200)
@given(actions())
def test_action_round_trips(action: Action) -> None:
    assert Action.from_dict(action.to_dict()) == action
    assert Action.from_dict(action.to_dict(full=True)) == action
    assert Action.from_dict(json.loads(json.dumps(action.to_dict()))) == action


@settings(max_examples=200)
@given(upstream_action_docs())
def test_upstream_documents_come_back_unchanged(doc: dict[str, Any]) -> None:
    assert Action.from_dict(doc).to_dict() == doc


def test_a_web_ui_document_comes_back_unchanged() -> None:
    doc = {"action": "backup", "mode": "fs", "path_to_backup": "/etc", "backup_name": "etc",
           "container": "c", "storage": "swift", "max_level": False, "timeout": None, "priority": None,
           "log_file": None, "no_incremental": "True", "restore_from_host": "h1"}
    action = Action.from_dict(doc)
    assert action.to_dict() == doc
    assert action.max_level is None and action.timeout == 120
    assert action.extra == {"priority": None, "restore_from_host": "h1"}


# ---------------------------------------------------------------- Action: helpers


@pytest.mark.parametrize("doc, expected", [
    ({}, False),
    ({"incremental": True}, True),
    ({"no_incremental": False}, True),
    ({"no_incremental": "false"}, True),
    ({"no_incremental": True}, False),
    ({"no_incremental": None}, False),
])
def test_is_incremental(doc: dict[str, Any], expected: bool) -> None:
    assert Action.from_dict(doc).is_incremental() is expected


@pytest.mark.parametrize("doc, media", [
    ({}, "fs"),
    ({"cinder_vol_id": "v"}, "cinder"),
    ({"cinder_vol_name": "v"}, "cinder"),
    ({"cindernative_vol_id": "v"}, "cindernative"),
    ({"cindernative_backup_id": "b"}, "cindernative"),
    ({"engine_name": "nova", "nova_inst_id": "i"}, "nova"),
    ({"nova_inst_id": "i"}, "fs"),  # upstream: nova only with the nova engine
    ({"engine_name": "glance", "project_id": "p"}, "glance"),
    ({"cinderbrick_vol_id": "v"}, "cinderbrick"),
])
def test_backup_media(doc: dict[str, Any], media: str) -> None:
    assert Action.from_dict(doc).backup_media() == media


def test_default_backup_name_is_formatted_before_paths_are_built() -> None:
    action = Action.from_dict({"hostname": "node1"})
    assert action.resolved_backup_name() == "freezer_fs_node1"
    assert action.hostname_backup_name() == "node1_freezer_fs_node1"


def test_backup_name_placeholders() -> None:
    action = Action.from_dict({"hostname": "h", "mode": "nova", "engine": "nova", "nova_inst_id": "i1",
                               "storage": "local", "container": "/b", "project_id": "p",
                               "backup_name": "{mode}-{backup_media}-{storage}-{container}-{project_id}-"
                                              "{resource_id}"})
    assert action.resolved_backup_name() == "nova-nova-local-/b-p-i1"


@pytest.mark.parametrize("name", ["{nope}", "a{b"])
def test_bad_backup_name_templates_name_the_option(name: str) -> None:
    with pytest.raises(ValidationError, match="--backup-name"):
        Action.from_dict({"backup_name": name}).resolved_backup_name()


# ---------------------------------------------------------------- jobs and the other documents

NOTE_JOB = (Path(__file__).parent / "data" / "deployment-note-job.json").read_text()
"""The job file of the original deployment note, as written (repeated key, dashes, "job-action")."""


def test_the_deployment_notes_job_file_reads_as_written() -> None:
    job = Job.from_dict(json.loads(NOTE_JOB))
    assert job.description == "scheduled test"
    [entry] = job.job_actions
    assert (entry.max_retries, entry.max_retries_interval, entry.mandatory) == (2, 60, True)
    assert entry.extra == {"exit_status": "success"}
    action = entry.freezer_action
    assert (action.mode, action.engine_name, action.backup_name) == ("nova", "nova", "nova_backup_by_json")
    assert action.no_incremental is True and not action.is_incremental()
    assert job.schedule() == {"schedule_interval": "30 minutes"}
    assert not job.is_one_off()
    again = Job.from_dict(job.to_dict())
    assert again == job
    assert job.to_dict()["job_actions"][0]["freezer_action"]["backup_name"] == "nova_backup_by_json"


def test_an_empty_schedule_is_a_one_off_job() -> None:
    job = Job.from_dict({"job_actions": [], "job_schedule": {}, "description": "once"})
    assert job.is_one_off()
    assert Job.from_dict({"job_actions": [], "job_schedule": {"schedule_start_date": ""}}).is_one_off()


def test_action_defaults_fill_missing_keys() -> None:
    job = Job.from_dict({"action_defaults": {"storage": "local", "container": "/b"},
                         "job_actions": [{"freezer_action": {"path_to_backup": "/srv", "container": "/c"}}]})
    [action] = job.actions()
    assert (action.storage, action.container, action.path_to_backup) == ("local", "/c", "/srv")


API_JOB = {
    "job_id": "j1", "project_id": "p1", "user_id": "u1", "client_id": "p1_node1", "session_id": "",
    "session_tag": 0, "description": "d",
    "job_schedule": {"schedule_interval": "1 days", "time_created": 1700000000, "time_started": -1,
                     "time_ended": -1, "status": "", "event": "", "result": ""},
    "job_actions": [{"action_id": "a1", "freezer_action": {"action": "backup", "mode": "fs",
                                                           "path_to_backup": "/etc", "backup_name": "etc",
                                                           "container": "c", "storage": "swift"},
                     "max_retries": 3, "max_retries_interval": None, "mandatory": False,
                     "user_id": "u1", "project_id": "p1"}],
    "user_credentials": {"trust_id": "t"},
}
API_BACKUP = {"backup_id": "b1", "user_id": "u1", "project_id": "p1", "status": "available",
              "backup_metadata": {"backup_name": "b", "container": "c", "hostname": "h",
                                  "time_stamp": 1700000000, "curr_backup_level": 0}}
API_CLIENT = {"project_id": "p1", "user_id": "u1",
              "client": {"uuid": "x", "hostname": "node1", "client_id": "p1_node1", "is_central": False,
                         "description": "", "supported_actions": ["backup"], "supported_modes": ["fs"],
                         "supported_storages": ["local"], "supported_engines": ["tar"],
                         "future_key": 1}}
API_SESSION = {"session_id": "s1", "session_tag": 0, "description": "s", "hold_off": 60,
               "schedule": {"schedule_interval": "1 days"}, "jobs": {"j1": {"client_id": "p1_node1"}},
               "status": "active", "time_start": -1, "time_end": -1, "user_id": "u1", "project_id": "p1"}


@pytest.mark.parametrize("cls, doc", [(Job, API_JOB), (BackupRecord, API_BACKUP), (Client, API_CLIENT),
                                      (Session, API_SESSION),
                                      (Client, {"client_id": "p1_n", "hostname": "n"})])
def test_api_documents_come_back_unchanged(cls: type, doc: dict[str, Any]) -> None:
    assert cls.from_dict(doc).to_dict() == doc


def test_documents_expose_their_fields() -> None:
    assert Client.from_dict(API_CLIENT).client_id == "p1_node1"
    assert Client.from_dict(API_CLIENT).project_id == "p1"
    assert BackupRecord.from_dict(API_BACKUP).time_stamp == 1700000000
    assert Job.from_dict(API_JOB).job_actions[0].extra["action_id"] == "a1"


def test_documents_must_be_objects() -> None:
    with pytest.raises(ValidationError):
        Job.from_dict(["no"])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="job_actions"):
        Job.from_dict({"job_actions": "no"})


_opt_text = st.none() | _text
_extra = st.dictionaries(st.text("klmnop", min_size=1, max_size=5).map(lambda s: "x_" + s), _json, max_size=2)
job_actions = st.builds(JobAction, freezer_action=actions(), max_retries=st.none() | st.integers(0, 9),
                        max_retries_interval=st.none() | st.integers(0, 99),
                        mandatory=st.none() | st.booleans(), extra=_extra)
jobs = st.builds(Job, job_id=_opt_text, client_id=_opt_text, project_id=_opt_text, user_id=_opt_text,
                 description=_opt_text, session_id=_opt_text, session_tag=st.none() | st.integers(0, 9),
                 job_actions=st.lists(job_actions, max_size=2),
                 job_schedule=st.dictionaries(st.sampled_from(["schedule_interval", "status", "event"]),
                                              _text, max_size=3),
                 extra=_extra)
backups = st.builds(BackupRecord, backup_id=_opt_text, user_id=_opt_text, project_id=_opt_text,
                    status=st.none() | st.sampled_from(BackupRecord.STATUSES),
                    backup_metadata=st.dictionaries(_text, _json, max_size=3), extra=_extra)
clients = st.builds(Client, client_id=_opt_text, hostname=_opt_text, description=_opt_text,
                    supported_modes=st.none() | st.lists(_text, max_size=2),
                    is_central=st.none() | st.booleans(), user_id=_opt_text, project_id=_opt_text,
                    extra=_extra, client_extra=_extra, wrapped=st.booleans())
sessions = st.builds(Session, session_id=_opt_text, session_tag=st.none() | st.integers(0, 9),
                     hold_off=st.none() | st.integers(0, 99),
                     jobs=st.dictionaries(_text, st.dictionaries(_text, _text, max_size=1), max_size=2),
                     status=_opt_text, extra=_extra)


@settings(max_examples=100)
@given(st.one_of(jobs, backups, sessions))
def test_documents_round_trip(doc: Any) -> None:
    wire = json.loads(json.dumps(doc.to_dict()))
    assert type(doc).from_dict(wire) == doc


@settings(max_examples=100)
@given(clients)
def test_clients_round_trip(client: Client) -> None:
    if not client.wrapped:  # a flat registration body has no inner object for extras
        client = dataclasses.replace(client, client_extra={})
    assert Client.from_dict(json.loads(json.dumps(client.to_dict()))) == client


def test_option_table_is_consistent() -> None:
    assert len(BY_DEST) == len(OPTIONS)
    flags = [f for o in OPTIONS for f in (*o.flags, *o.negations, *([o.short] if o.short else []))]
    assert len(flags) == len(set(flags))
    for opt in OPTIONS:
        assert opt.default is None or opt.type != "choice" or opt.default in opt.choices
        assert opt.help.endswith(".")

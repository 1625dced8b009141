"""``[oslo_policy] policy_file`` overrides upstream's default rules, and a changed file is re-read."""

from __future__ import annotations

from pathlib import Path

from tests.api.server import ADMIN, member_token, reader_token, start_api, stop_api


def test_policy_file_overrides_a_decision(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    # clients can be listed by admins only; readers may also create sessions (a base-rule reference)
    policy.write_text('"clients:get_all": "role:admin"\n'
                      '"sessions:create": "rule:admin_or_owner or rule:project_reader"\n')
    server = start_api(tmp_path, f"sqlite:///{tmp_path / 'freezer.sqlite'}", "sqlite",
                       f"[oslo_policy]\npolicy_file = {policy}\n")
    try:
        project = server.new_project()
        member, reader = member_token(project), reader_token(project)
        assert server.call("GET", f"/v2/{project}/clients", member).status_code == 403
        assert server.call("GET", f"/v2/{project}/clients", ADMIN).status_code == 200
        assert server.call("GET", f"/v2/{project}/jobs", member).status_code == 200  # not overridden
        assert server.call("POST", f"/v2/{project}/sessions", reader, {"description": "r"}).status_code == 201
        assert server.call("POST", f"/v2/{project}/actions", reader,
                           {"freezer_action": {"action": "info"}}).status_code == 403  # default still applies
        policy.write_text("{}\n")  # back to the defaults, without a restart
        assert server.call("GET", f"/v2/{project}/clients", member).status_code == 200
        assert server.call("POST", f"/v2/{project}/sessions", reader, {"description": "r"}).status_code == 403
    finally:
        stop_api(server)

"""Who may do what: upstream Freezer's default policy, enforced by oslo.policy.

The rules have upstream's names and check strings (project scope, roles
``member``, ``reader``, ``admin``, ``service``); ``%(project_id)s`` is the
project in the URL.  Because oslo.policy enforces them, an operator's
``[oslo_policy] policy_file`` (YAML or JSON, upstream's format) overrides any
rule, and the file is re-read when it changes.

:func:`configure` binds the enforcer to the service configuration; until then
the defaults apply (no file is read).
"""

from __future__ import annotations

import os
import threading

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_policy import policy as oslo_policy

from freezer_service.api import errors
from freezer_service.api.context import Identity

PROJECT = ["project"]

BASE_RULES = [
    oslo_policy.RuleDefault("project_member", "role:member and project_id:%(project_id)s",
                            "A member of the project in the URL."),
    oslo_policy.RuleDefault("project_reader", "role:reader and project_id:%(project_id)s",
                            "A reader of the project in the URL."),
    oslo_policy.RuleDefault("admin_or_service", "role:admin or role:service", "Cloud admin or a service."),
    oslo_policy.RuleDefault("admin_or_owner", "role:admin or rule:project_member", "Admin or project member."),
    oslo_policy.RuleDefault("admin_or_owner_or_service", "rule:admin_or_owner or role:service",
                            "Admin, project member or a service."),
    oslo_policy.RuleDefault("admin_or_reader_or_service", "rule:admin_or_owner_or_service or rule:project_reader",
                            "Anyone who may read the project."),
]

_WRITES = {
    "backups": ("create", "update", "delete"),
    "clients": ("create", "update", "delete"),
    "actions": ("create", "update", "delete"),
    "jobs": ("create", "update", "delete", "event:create"),
    "sessions": ("create", "update", "delete", "action:create", "job:add", "job:remove"),
}


def _rules() -> list[oslo_policy.RuleDefault]:
    rules = []
    for kind, verbs in _WRITES.items():
        for verb in ("get", "get_all"):
            rules.append(oslo_policy.RuleDefault(f"{kind}:{verb}", "rule:admin_or_reader_or_service",
                                                 scope_types=PROJECT))
        writer = "rule:admin_or_owner_or_service" if kind == "backups" else "rule:admin_or_owner"
        rules += [oslo_policy.RuleDefault(f"{kind}:{verb}", writer, scope_types=PROJECT) for verb in verbs]
    rules.append(oslo_policy.RuleDefault("jobs:get_all_projects", "rule:admin_or_service", scope_types=PROJECT))
    rules.append(oslo_policy.RuleDefault("clients:create_central", "rule:admin_or_service", scope_types=PROJECT))
    return rules


RULES = BASE_RULES + _rules()
RULE_NAMES = frozenset(rule.name for rule in RULES)

_lock = threading.Lock()
_check_lock = threading.Lock()
_enforcer: oslo_policy.Enforcer | None = None


def _new_enforcer(conf: cfg.ConfigOpts | None) -> oslo_policy.Enforcer:
    if conf is None:  # defaults only: no file, no policy.d
        conf = cfg.ConfigOpts()
        conf([], project="freezer", default_config_files=[], default_config_dirs=[])
        policy_opts.set_defaults(conf, policy_file=os.devnull)
        conf.set_override("policy_dirs", [], group="oslo_policy")
    enforcer = oslo_policy.Enforcer(conf)
    enforcer.register_defaults(RULES)
    enforcer.load_rules()
    return enforcer


def configure(conf: cfg.ConfigOpts | None) -> None:
    """Enforce with ``conf``'s ``[oslo_policy]`` options (``None``: the defaults only)."""
    global _enforcer
    with _lock:
        _enforcer = _new_enforcer(conf)


def enforcer() -> oslo_policy.Enforcer:
    global _enforcer
    with _lock:
        if _enforcer is None:
            _enforcer = _new_enforcer(None)
        return _enforcer


def can(who: Identity, rule: str, project: str) -> bool:
    if rule not in RULE_NAMES:
        raise KeyError(rule)  # a typo in our code, not a denial
    creds = {"user_id": who.user_id, "project_id": who.project_id, "roles": sorted(who.roles)}
    checker = enforcer()
    # oslo.policy re-reads a changed file by rebuilding its rule set in place: one thread at a time
    with _check_lock:
        return bool(checker.enforce(rule, {"project_id": project}, creds))


def enforce(who: Identity, rule: str, project: str) -> None:
    """Raise 403 (fixed text, as upstream) unless ``who`` passes ``rule`` for ``project``."""
    if not can(who, rule, project):
        raise errors.forbidden()

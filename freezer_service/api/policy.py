"""Who may do what: upstream Freezer's default policy (project scope, four roles).

A caller with role ``member`` (writes) or ``reader`` (reads) acts on the
project of its token only; ``admin`` acts on every project; ``service`` reads
every project and writes backups.  The project compared is the one in the URL.
"""

from __future__ import annotations

from collections.abc import Callable

from freezer_service.api import errors
from freezer_service.api.context import Identity

Rule = Callable[[Identity, str], bool]


def _admin(who: Identity, project: str) -> bool:
    return "admin" in who.roles


def _service(who: Identity, project: str) -> bool:
    return "service" in who.roles


def _member(who: Identity, project: str) -> bool:
    return "member" in who.roles and who.project_id == project


def _reader(who: Identity, project: str) -> bool:
    return "reader" in who.roles and who.project_id == project


def _any(*rules: Rule) -> Rule:
    return lambda who, project: any(rule(who, project) for rule in rules)


ADMIN_OR_SERVICE = _any(_admin, _service)
ADMIN_OR_OWNER = _any(_admin, _member)
ADMIN_OR_OWNER_OR_SERVICE = _any(_admin, _member, _service)
ADMIN_OR_READER_OR_SERVICE = _any(_admin, _member, _service, _reader)

_WRITES = {
    "backups": ("create", "update", "delete"),
    "clients": ("create", "update", "delete"),
    "actions": ("create", "update", "delete"),
    "jobs": ("create", "update", "delete", "event:create"),
    "sessions": ("create", "update", "delete", "action:create", "job:add", "job:remove"),
}

RULES: dict[str, Rule] = {}
for _kind, _verbs in _WRITES.items():
    RULES[f"{_kind}:get"] = ADMIN_OR_READER_OR_SERVICE
    RULES[f"{_kind}:get_all"] = ADMIN_OR_READER_OR_SERVICE
    for _verb in _verbs:
        RULES[f"{_kind}:{_verb}"] = ADMIN_OR_OWNER_OR_SERVICE if _kind == "backups" else ADMIN_OR_OWNER
RULES["jobs:get_all_projects"] = ADMIN_OR_SERVICE
RULES["clients:create_central"] = ADMIN_OR_SERVICE


def can(who: Identity, rule: str, project: str) -> bool:
    return RULES[rule](who, project)


def enforce(who: Identity, rule: str, project: str) -> None:
    """Raise 403 (fixed text, as upstream) unless ``who`` passes ``rule`` for ``project``."""
    if not can(who, rule, project):
        raise errors.forbidden()

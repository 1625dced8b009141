"""Where Swift credentials come from, and how a connection is made from them.

Two ways to authenticate, as the OpenStack tools do:

* **Keystone v3** from the ``OS_*`` variables of an openrc file
  (``OS_AUTH_URL``, ``OS_USERNAME``, ``OS_PASSWORD``, ``OS_PROJECT_NAME``,
  ``OS_PROJECT_DOMAIN_NAME``, ``OS_USER_DOMAIN_NAME``, ``OS_INTERFACE``,
  ``OS_REGION_NAME``, ``OS_CACERT``, ...);
* **tempauth / v1** from ``ST_AUTH``, ``ST_USER`` and ``ST_KEY``, as the
  ``swift`` command line reads them.

The values are looked up, lowest precedence first, in the environment, in
the openrc file named by the ``osrc`` option (upstream documents that key for
``[storage:NAME]`` sections; here it works everywhere), and in the action's
own keys (``os_auth_url``, ``st_key``, ... in a ``[storage:NAME]`` section).
Keystone wins when an auth URL for it is known.  Secrets are never logged and
never appear in an error message.
"""

from __future__ import annotations

import os
import re
import shlex
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swiftclient.client import Connection

from freezer_core.errors import ConfigError, ValidationError

__all__ = ["Credentials", "load_credentials"]

KEYSTONE_VARS = (
    "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME", "OS_PROJECT_ID",
    "OS_PROJECT_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID", "OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID",
    "OS_INTERFACE", "OS_ENDPOINT_TYPE", "OS_IDENTITY_API_VERSION", "OS_REGION_NAME", "OS_CACERT",
    "OS_TENANT_NAME", "OS_TRUST_ID",
)
TEMPAUTH_VARS = ("ST_AUTH", "ST_USER", "ST_KEY")
ALL_VARS = KEYSTONE_VARS + TEMPAUTH_VARS

SOCKET_TIMEOUT = 60.0
"""Seconds a single Swift request may stall before it is retried by the core."""

_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$")
_REFERENCE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def read_openrc(path: str, env: Mapping[str, str]) -> dict[str, str]:
    """The ``OS_*``/``ST_*`` assignments of an openrc file, without running it.

    Dashboard-made openrc files ask for the password (``read -sr
    OS_PASSWORD_INPUT``) and then ``export OS_PASSWORD=$OS_PASSWORD_INPUT``: a
    reference to a variable that is not set resolves to nothing, so the
    password then comes from the environment.
    """
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise ConfigError(f"osrc: cannot read {path} ({exc.strerror or exc}): give the path of an openrc file"
                          ) from None
    found: dict[str, str] = {}
    for line in lines:
        match = _ASSIGNMENT.match(line)
        if not match or match.group(1) not in ALL_VARS:
            continue
        try:
            words = shlex.split(match.group(2), comments=True)
        except ValueError:
            raise ConfigError(f"osrc: {path} has an unparsable line for {match.group(1)}: fix its quoting") from None
        value = " ".join(words)
        value = _REFERENCE.sub(lambda m: found.get(m.group(1) or m.group(2), env.get(m.group(1) or m.group(2), "")),
                               value)
        if value:
            found[match.group(1)] = value
    return found


def _interface(value: str | None) -> str:
    """``internal``, ``internalURL`` and ``internalurl`` all mean Keystone's ``internal``."""
    text = (value or "public").strip()
    if text.lower().endswith("url"):
        text = text[:-3]
    text = text.lower()
    if text not in ("public", "internal", "admin"):
        raise ValidationError(f"OS_INTERFACE={value!r} is not an interface: use public, internal or admin")
    return text


@dataclass
class Credentials:
    """Everything needed to open a Swift connection; :meth:`connect` is thread-safe."""

    values: dict[str, str]
    insecure: bool = False
    trust_id: str | None = None
    _session: Any = field(default=None, repr=False)
    _preauth: tuple[str, str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def keystone(self) -> bool:
        return bool(self.values.get("OS_AUTH_URL"))

    @property
    def auth_url(self) -> str:
        return self.values["OS_AUTH_URL"] if self.keystone else self.values["ST_AUTH"]

    @property
    def user_hint(self) -> str:
        return "OS_USERNAME/OS_PASSWORD" if self.keystone else "ST_USER/ST_KEY"

    @property
    def region(self) -> str | None:
        return self.values.get("OS_REGION_NAME") or None

    @property
    def interface(self) -> str:
        return _interface(self.values.get("OS_INTERFACE") or self.values.get("OS_ENDPOINT_TYPE"))

    def _verify(self) -> bool | str:
        return False if self.insecure else (self.values.get("OS_CACERT") or True)

    def _keystone_session(self) -> Any:
        """One keystoneauth session shared by every connection: one token, refreshed when it expires."""
        from keystoneauth1 import session
        from keystoneauth1.identity import generic

        v = self.values
        version = v.get("OS_IDENTITY_API_VERSION", "3").strip()
        if version not in ("3", "3.0", "v3"):
            raise ValidationError(f"OS_IDENTITY_API_VERSION={version}: only Keystone v3 is supported; set it to 3")
        scope: dict[str, Any] = {"trust_id": self.trust_id} if self.trust_id else {
            "project_name": v.get("OS_PROJECT_NAME") or v.get("OS_TENANT_NAME"),
            "project_id": v.get("OS_PROJECT_ID"),
            "project_domain_name": v.get("OS_PROJECT_DOMAIN_NAME"),
            "project_domain_id": v.get("OS_PROJECT_DOMAIN_ID"),
        }
        auth = generic.Password(
            auth_url=v["OS_AUTH_URL"], username=v.get("OS_USERNAME"), password=v.get("OS_PASSWORD"),
            user_domain_name=v.get("OS_USER_DOMAIN_NAME"), user_domain_id=v.get("OS_USER_DOMAIN_ID"),
            **{k: val for k, val in scope.items() if val},
        )
        return session.Session(auth=auth, verify=self._verify(), timeout=SOCKET_TIMEOUT)

    def connect(self) -> Connection:
        """A new connection (one per thread: swiftclient connections are not thread-safe).

        ``retries=0``: the core retries whole operations and knows which
        failures are permanent; swiftclient still re-authenticates once when a
        token expires, at once (``starting_backoff=0``) rather than after a
        second's sleep that would also delay every wrong-password report.
        """
        cacert = self.values.get("OS_CACERT") or None
        if self.keystone:
            with self._lock:
                if self._session is None:
                    self._session = self._keystone_session()
            return Connection(session=self._session, retries=0, starting_backoff=0, timeout=SOCKET_TIMEOUT,
                              os_options={"region_name": self.region, "endpoint_type": self.interface,
                                          "service_type": "object-store"})
        v = self.values
        conn = Connection(authurl=v["ST_AUTH"], user=v.get("ST_USER"), key=v.get("ST_KEY"), auth_version="1",
                          retries=0, starting_backoff=0, timeout=SOCKET_TIMEOUT, insecure=self.insecure,
                          cacert=cacert,
                          preauthurl=self._preauth[0] if self._preauth else None,
                          preauthtoken=self._preauth[1] if self._preauth else None)
        return conn

    def close(self) -> None:
        """Drop the Keystone session's pooled HTTP connections."""
        if self._session is not None:
            self._session.session.close()
            self._session = None

    def remember(self, conn: Connection) -> None:
        """Share a tempauth token with the connections opened later (saves one auth per thread)."""
        if not self.keystone and conn.url and conn.token:
            self._preauth = (conn.url, conn.token)


def load_credentials(options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Credentials:
    """Credentials from the environment, the ``osrc`` file and the action's keys (in that precedence order)."""
    env = dict(os.environ if environ is None else environ)
    osrc = options.get("osrc")
    sources = [
        {k: env[k] for k in ALL_VARS if env.get(k)},
        read_openrc(str(osrc), env) if osrc else {},
        {k: str(options[k.lower()]) for k in ALL_VARS if options.get(k.lower())},
    ]
    values = {k: v for source in sources for k, v in source.items()}
    # The most specific source that names an auth URL decides between Keystone and tempauth.
    chosen = next((s for s in reversed(sources) if s.get("OS_AUTH_URL") or s.get("ST_AUTH")), {})
    if chosen.get("ST_AUTH") and not chosen.get("OS_AUTH_URL"):
        values.pop("OS_AUTH_URL", None)
    creds = Credentials(values, insecure=bool(options.get("insecure")),
                        trust_id=options.get("os_trust_id") or values.get("OS_TRUST_ID"))
    if creds.keystone:
        if not values.get("OS_USERNAME") or not values.get("OS_PASSWORD"):
            raise ValidationError("swift storage: OS_AUTH_URL is set but OS_USERNAME or OS_PASSWORD is not: "
                                  "source your openrc file (or give --osrc FILE)")
    elif not values.get("ST_AUTH"):
        raise ValidationError("swift storage needs credentials: source an openrc file (OS_AUTH_URL, OS_USERNAME, "
                              "OS_PASSWORD, ...), give --osrc FILE, or set ST_AUTH, ST_USER and ST_KEY")
    elif not values.get("ST_USER") or not values.get("ST_KEY"):
        raise ValidationError("swift storage: ST_AUTH is set but ST_USER or ST_KEY is not: set both")
    return creds

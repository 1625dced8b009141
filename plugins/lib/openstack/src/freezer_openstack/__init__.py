"""The OpenStack client every Freezer OpenStack plugin shares.

Connections are made lazily: :class:`Cloud` holds the action's options and
only talks to Keystone when a plugin first asks for ``cloud.conn``.  So a
local file backup never needs a reachable Keystone, and an OpenStack action
fails with one line naming what is missing rather than a traceback.

Credentials come from where the OpenStack tools look for them: the ``OS_*``
variables of an openrc file (Keystone v3), or ``clouds.yaml`` with
``OS_CLOUD`` naming the cloud.  openstacksdk applies ``OS_CACERT``,
``OS_REGION_NAME`` and ``OS_INTERFACE`` (``internal`` in the deployment note)
to every service it finds in Keystone's catalog; ``--insecure`` turns off
certificate checks.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

from freezer_core.contract import Options
from freezer_core.errors import ConfigError, FreezerError
from freezer_openstack.waits import Temporaries, wait_for

__all__ = ["Cloud", "OpenStackError", "Temporaries", "check", "wait_for"]

LOG = logging.getLogger("freezer.openstack")


class OpenStackError(FreezerError):
    """An OpenStack service refused or failed a request."""


class Cloud:
    """A lazily created openstacksdk connection for one action."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._conn: Any = None

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = connect(self.options)
        return self._conn

    @property
    def timeout(self) -> float:
        return float(self.options.get("timeout") or 120)

    @property
    def prefix(self) -> str:
        """Name prefix of the temporary resources Freezer creates."""
        return str(self.options.get("temp_resource_prefix") or "freezer_")

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def _has_credentials() -> bool:
    if os.environ.get("OS_AUTH_URL") or os.environ.get("OS_CLOUD"):
        return True
    places = [os.path.expanduser("~/.config/openstack/clouds.yaml"), "/etc/openstack/clouds.yaml", "clouds.yaml"]
    return any(os.path.exists(p) for p in places)


def connect(options: Options) -> Any:
    """An authenticated connection, or one clear error saying what is wrong."""
    if not _has_credentials():
        raise ConfigError("no OpenStack credentials: source an openrc file (OS_AUTH_URL, OS_USERNAME, ...) "
                          "or set OS_CLOUD to a cloud of clouds.yaml")
    version = os.environ.get("OS_IDENTITY_API_VERSION", "3").strip()
    if version not in ("3", "3.0"):
        raise ConfigError(f"OS_IDENTITY_API_VERSION={version}: only Keystone v3 is supported; set it to 3")
    import openstack
    from keystoneauth1 import exceptions as ka

    kwargs: dict[str, Any] = {}
    if options.get("insecure"):
        kwargs["verify"] = False
    try:
        with _password_over_token():
            conn = openstack.connect(cloud=os.environ.get("OS_CLOUD") or None, load_envvars=True,
                                     load_yaml_config=True, **kwargs)
        conn.authorize()
    except openstack.exceptions.ConfigException as exc:
        raise ConfigError(f"OpenStack configuration: {_one_line(exc)}") from None
    except TypeError as exc:  # keystoneauth: options that do not fit the auth type
        raise ConfigError(f"OpenStack credentials do not fit together ({_one_line(exc)}): check OS_AUTH_TYPE and "
                          f"the OS_* variables") from None
    except (openstack.exceptions.SDKException, ka.ClientException) as exc:
        raise _auth_error(exc) from None
    LOG.debug("connected to OpenStack, project %s", conn.current_project_id)
    return conn


@contextlib.contextmanager
def _password_over_token() -> Iterator[None]:
    """Hide ``OS_TOKEN`` from openstacksdk while a password is given and no auth type is named.

    A freezer-scheduler talks to freezer-api with a token (``OS_TOKEN``) while
    the jobs it runs log into Keystone with the openrc's password; given both,
    openstacksdk would hand the token to the password plugin, which refuses it.
    """
    token = os.environ.get("OS_TOKEN")
    if token is None or not os.environ.get("OS_PASSWORD") or os.environ.get("OS_AUTH_TYPE"):
        yield
        return
    del os.environ["OS_TOKEN"]
    try:
        yield
    finally:
        os.environ["OS_TOKEN"] = token


def _auth_error(exc: BaseException) -> FreezerError:
    """One line for a failed login; openstacksdk wraps keystoneauth's errors, so look at the cause too."""
    from keystoneauth1 import exceptions as ka

    cause = exc if isinstance(exc, ka.ClientException) else (exc.__cause__ or exc.__context__ or exc)
    if isinstance(cause, ka.Unauthorized) or "HTTP 401" in str(exc):
        return ConfigError("Keystone refused the credentials: check OS_USERNAME, OS_PASSWORD and the project")
    if isinstance(cause, ka.MissingRequiredOptions):
        return ConfigError(f"OpenStack credentials incomplete: {_one_line(cause)}; check the OS_* variables")
    if isinstance(cause, ka.SSLError):
        return ConfigError(f"TLS error talking to Keystone ({_one_line(cause)}): set OS_CACERT to the CA bundle "
                           f"or use --insecure")
    if isinstance(cause, (ka.ConnectFailure, ka.DiscoveryFailure, ka.ConnectTimeout)):
        return OpenStackError(f"cannot reach Keystone at {os.environ.get('OS_AUTH_URL', '?')}: {_one_line(cause)}")
    return OpenStackError(f"OpenStack login failed: {_one_line(exc)}")


def check(resp: Any, what: str, ok: tuple[int, ...] = (200, 201, 202, 204)) -> Any:
    """The response of a raw REST call, or :class:`OpenStackError` naming ``what`` and the service's reason."""
    if resp.status_code in ok:
        return resp
    reason = ""
    try:
        body = resp.json()
        inner = next(iter(body.values())) if isinstance(body, dict) and len(body) == 1 else body
        reason = (inner.get("message") or inner.get("detail") or "") if isinstance(inner, dict) else ""
    except ValueError:
        reason = _page_text(resp.text or "")
    reason = _one_line(reason) or resp.reason or ""
    raise OpenStackError(f"{what} failed: HTTP {resp.status_code} {reason}".rstrip())


def _page_text(text: str) -> str:
    """The explanation in an error answered as a page rather than JSON.

    Glance answers some errors (a quota exceeded among them) with an HTML page
    whose boilerplate would fill the one line of the error; the service's own
    words follow "The response body:".
    """
    plain = html.unescape(re.sub(r"<title>.*?</title>|<[^>]+>", " ", text, flags=re.S | re.I))
    _, found, detail = plain.partition("The response body:")
    return detail if found else plain


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())[:300]

"""Bounded waits and temporary resources.

Every wait on an OpenStack resource is bounded by ``--timeout`` and, when it
gives up, says which resource it waited for and the state it was last seen
in.  Every temporary snapshot, volume or image is registered in
:class:`Temporaries` the moment it exists, and removed when the block ends,
whether it succeeded, failed or was interrupted: Ctrl-C unwinds through it,
and while temporaries exist SIGTERM (what a scheduler or ``kill`` sends) is
turned into the same interrupt, so a stopped agent cleans up too.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from freezer_core.errors import FreezerError

LOG = logging.getLogger("freezer.openstack")


class WaitError(FreezerError):
    """A resource reached an error state, vanished, or did not get ready in time."""


def wait_for(fetch: Callable[[], Any], what: str, ready: tuple[str, ...], timeout: float,
             failed: tuple[str, ...] = ("error",), state: Callable[[Any], str] | None = None) -> Any:
    """Poll ``fetch()`` until the resource's state is in ``ready``; return the resource.

    ``fetch`` returns None when the resource is gone.  ``state`` reads the
    state (default: the ``status`` attribute or key, lower-cased).
    """
    read = state or _status
    deadline = time.monotonic() + timeout
    delay, last = 0.5, "unknown"
    while True:
        resource = fetch()
        if resource is None:
            raise WaitError(f"{what} disappeared while waiting for it to become {'/'.join(ready)}")
        last = read(resource)
        if last in ready:
            return resource
        if last in failed:
            raise WaitError(f"{what} went to state {last!r}{_fault(resource)}")
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitError(f"timed out after {timeout:g} s waiting for {what} to become {'/'.join(ready)}: "
                            f"its last state was {last!r} (raise --timeout if it is just slow)")
        time.sleep(min(delay, left))
        delay = min(delay * 1.5, 5.0)


def _status(resource: Any) -> str:
    value = resource.get("status") if isinstance(resource, dict) else getattr(resource, "status", None)
    return str(value or "unknown").lower()


def _fault(resource: Any) -> str:
    for key in ("fail_reason", "fault"):
        value = resource.get(key) if isinstance(resource, dict) else getattr(resource, key, None)
        if value:
            return f": {value.get('message') if isinstance(value, dict) else value}"
    return ""


class _TermAsInterrupt:
    """SIGTERM raises KeyboardInterrupt while any :class:`Temporaries` holds something (main thread only)."""

    users = 0
    previous: Any = None

    @classmethod
    def acquire(cls) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if cls.users == 0:
            cls.previous = signal.signal(signal.SIGTERM, cls._raise)
        cls.users += 1

    @classmethod
    def release(cls) -> None:
        if threading.current_thread() is not threading.main_thread() or cls.users == 0:
            return
        cls.users -= 1
        if cls.users == 0:
            signal.signal(signal.SIGTERM, cls.previous if cls.previous is not None else signal.SIG_DFL)

    @staticmethod
    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM during the block and deliver the first after it; a second one interrupts at once.

    Only the main thread receives signals, so elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if held:
            raise KeyboardInterrupt(f"signal {signum}")
        held.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if held:
        raise KeyboardInterrupt(f"signal {held[0]}")


class Temporaries:
    """Temporary resources of one action, deleted (newest first) when the block ends.

    Deletion failures are logged, never raised over the error that ended the
    block; :attr:`left` lists what could not be removed.
    """

    def __init__(self) -> None:
        self._items: list[tuple[str, Callable[[], None]]] = []
        self.left: list[str] = []
        self._guarded = False

    def add(self, what: str, delete: Callable[[], None]) -> None:
        self._guard()
        self._items.append((what, delete))

    def _guard(self) -> None:
        if not self._guarded:
            _TermAsInterrupt.acquire()
            self._guarded = True

    @contextmanager
    def creating(self) -> Iterator[None]:
        """Hold Ctrl-C and SIGTERM while a resource is created and :meth:`add`-ed, then deliver them.

        Without this, an interrupt landing after OpenStack made the resource but
        before it was registered would leave it behind unseen (a volume still
        being created from a snapshot the cleanup deletes ends up in error).
        """
        self._guard()  # SIGTERM's own handler is installed first, so it is the one put back
        with _interrupts_held():
            yield

    def forget(self, what: str) -> None:
        """Keep a resource after all (it became the restored result)."""
        self._items = [(w, d) for w, d in self._items if w != what]

    def close(self) -> None:
        """Remove everything registered; an interrupt meanwhile waits until the cleanup is over.

        Ctrl-C during the cleanup is delivered once it ends (so a finished backup
        that was interrupted while cleaning up still reports "interrupted"); a
        second one abandons only the resource being removed.
        """
        try:
            with _interrupts_held():
                while self._items:
                    what, delete = self._items.pop()
                    LOG.info("removing temporary %s", what)
                    try:
                        delete()
                        LOG.info("removed temporary %s", what)
                    except BaseException as exc:  # noqa: BLE001 - cleanup must go on (even after a second Ctrl-C)
                        self.left.append(what)
                        LOG.error("could not remove temporary %s: %s", what, exc)
        finally:
            if self._guarded:
                self._guarded = False
                _TermAsInterrupt.release()

    def __enter__(self) -> Temporaries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

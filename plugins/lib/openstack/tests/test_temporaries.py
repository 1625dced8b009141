"""Temporaries: everything registered is removed, and an interrupt never splits create from register."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from freezer_openstack import Temporaries


@pytest.fixture(autouse=True)
def _python_sigint() -> Iterator[None]:
    """Python's own SIGINT handler during each test, as a foreground run has it.

    A test session started in the background by a shell inherits SIGINT ignored;
    the tests check that Temporaries puts back the handler it found.
    """
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def _interrupt_now(signum: int) -> None:
    os.kill(os.getpid(), signum)
    for _ in range(1000):  # Python runs the handler between bytecodes of the main thread
        pass


def test_removes_newest_first_and_keeps_what_was_forgotten() -> None:
    removed: list[str] = []
    with Temporaries() as temporaries:
        for name in ("snapshot", "volume", "image"):
            temporaries.add(name, lambda name=name: removed.append(name))
        temporaries.forget("volume")
    assert removed == ["image", "snapshot"]


def test_a_failed_removal_is_listed_and_the_rest_still_goes() -> None:
    removed: list[str] = []

    def refuse() -> None:
        raise RuntimeError("Cinder said no")

    temporaries = Temporaries()
    temporaries.add("snapshot", lambda: removed.append("snapshot"))
    temporaries.add("volume", refuse)
    temporaries.close()
    assert removed == ["snapshot"] and temporaries.left == ["volume"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_while_creating_arrives_once_the_resource_is_registered(signum: int) -> None:
    removed: list[str] = []
    term_before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with Temporaries() as temporaries:
            with temporaries.creating():
                _interrupt_now(signum)  # as if Ctrl-C came while OpenStack answered the create
                temporaries.add("volume", lambda: removed.append("volume"))
            pytest.fail("the held interrupt was not delivered after the block")
    assert removed == ["volume"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) == term_before


def test_a_second_interrupt_while_creating_is_not_held() -> None:
    reached: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with Temporaries() as temporaries:
            with temporaries.creating():
                _interrupt_now(signal.SIGINT)
                _interrupt_now(signal.SIGINT)
                reached.append("after the second signal")
    assert reached == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_during_the_cleanup_waits_for_it_and_is_then_delivered() -> None:
    removed: list[str] = []
    temporaries = Temporaries()
    temporaries.add("snapshot", lambda: removed.append("snapshot"))
    temporaries.add("volume", lambda: (_interrupt_now(signal.SIGINT), removed.append("volume")))
    with pytest.raises(KeyboardInterrupt):
        temporaries.close()
    assert removed == ["volume", "snapshot"] and temporaries.left == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

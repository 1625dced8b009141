"""The child process that runs one action: ``python -m freezer_service.scheduler.child RESULT_FILE``.

The action document arrives on stdin (never in a file: it may hold
passwords); the outcome is written to ``RESULT_FILE`` (mode 0600, renamed into
place) rather than to a pipe, so that a scheduler restarted after a crash can
still collect the outcome of a child that outlived it.  SIGTERM becomes
``KeyboardInterrupt`` so modes release their locks and snapshots on abort.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from typing import Any


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def write_result(path: str, outcome: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(outcome, fh)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    result_path = args[0]
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    import freezer_core
    from freezer_core.errors import FreezerError

    try:
        action = json.loads(sys.stdin.read())
        record = freezer_core.run(action)
        write_result(result_path, {"ok": True, "record": record})
        return 0
    except KeyboardInterrupt:
        write_result(result_path, {"ok": False, "aborted": True, "error": "aborted", "exit_code": 8})
        return 8
    except FreezerError as exc:
        write_result(result_path, {"ok": False, "error": exc.message, "exit_code": exc.exit_code})
        return exc.exit_code
    except Exception as exc:  # a bug in an action: still an outcome the scheduler can report
        logging.getLogger("freezer.scheduler.child").exception("unexpected failure")
        write_result(result_path, {"ok": False, "error": f"unexpected failure: {type(exc).__name__}: {exc}",
                                   "exit_code": 1})
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Session-wide test setup: every real server's fixture is available to every test.

The fixtures live in ``tests/services/<name>.py``; a server starts only when a
test asks for it, once per session.
"""

from __future__ import annotations

from pathlib import Path

_services = Path(__file__).parent / "tests" / "services"
pytest_plugins = [f"tests.services.{p.stem}" for p in sorted(_services.glob("*.py")) if p.stem != "__init__"]

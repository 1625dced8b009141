"""Test support shipped with Freezer, for our plugins and third-party ones alike.

* :class:`~freezer_core.testing.memory.MemoryStorage`: an in-memory storage;
* conformance suites ``StorageTests``, ``EngineTests`` and ``ModeTests``:
  subclass one in your plugin's tests and provide its fixture.
"""

"""An in-memory :class:`Storage`, for tests and for embedding experiments.

It is also the smallest complete example of the storage contract.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from freezer_core.contract import ObjectInfo, Options, Storage, StorageProperties, Upload
from freezer_core.errors import ObjectNotFound


class MemoryStorage(Storage):
    name = "memory"

    def __init__(self, container: str = "memory", options: Options | None = None) -> None:
        super().__init__(container, options or {})
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes) -> None:
        with self._lock:
            self.objects[name] = bytes(data)

    def open_upload(self, name: str) -> Upload:
        return _MemoryUpload(self, name)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        try:
            data = self.objects[name]
        except KeyError:
            raise ObjectNotFound(f"{name} not found in {self.describe()}") from None
        end = len(data) if length is None else offset + length
        return data[offset:end]

    def size(self, name: str) -> int | None:
        data = self.objects.get(name)
        return None if data is None else len(data)

    def list(self, prefix: str) -> list[str]:
        base = prefix.rstrip("/") + "/" if prefix else ""
        children = {n[len(base):].split("/", 1)[0] for n in list(self.objects) if n.startswith(base)}
        return sorted(children)

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for n in sorted(self.objects):
            if not prefix or n == prefix or n.startswith(prefix.rstrip("/") + "/"):
                yield ObjectInfo(n, len(self.objects[n]))

    def delete(self, name: str) -> None:
        with self._lock:
            for n in [n for n in self.objects if n == name or n.startswith(name.rstrip("/") + "/")]:
                del self.objects[n]

    def properties(self) -> StorageProperties:
        return StorageProperties(connections=4, borrows_parts=True)  # write_part copies its data


class _MemoryUpload(Upload):
    def __init__(self, storage: MemoryStorage, name: str) -> None:
        self.storage = storage
        self.name = name
        self.parts: dict[int, tuple[int, bytes]] = {}

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        self.parts[number] = (offset, bytes(data))

    def complete(self) -> None:
        data = b"".join(d for _, (_, d) in sorted(self.parts.items()))
        self.storage.put(self.name, data)

    def abort(self) -> None:
        self.parts.clear()

"""A complete third-party Freezer storage in one file: objects kept in a dbm file.

Publish it as ``freezer-storage-dbm`` with this in its ``pyproject.toml``::

    [project.entry-points."freezer.storages"]
    dbm = "freezer_storage_dict:DbmStorage"

and ``freezer-agent --storage dbm --container /srv/backups.db`` uses it.
Its tests are the conformance suite (see test_example_storage.py in tests/).
"""

from __future__ import annotations

import dbm
import threading
from collections.abc import Iterator

from freezer_core.contract import ObjectInfo, Options, Storage, Upload
from freezer_core.errors import ObjectNotFound


class DbmStorage(Storage):
    name = "dbm"

    def __init__(self, container: str, options: Options) -> None:
        super().__init__(container, options)
        self.db = dbm.open(container, "c")
        self.lock = threading.Lock()

    def put(self, name: str, data: bytes) -> None:
        with self.lock:
            self.db[name] = data

    def open_upload(self, name: str) -> Upload:
        return DbmUpload(self, name)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        with self.lock:
            if name not in self.db:
                raise ObjectNotFound(f"{name} not found in {self.describe()}")
            data = self.db[name]
        return data[offset:] if length is None else data[offset:offset + length]

    def size(self, name: str) -> int | None:
        with self.lock:
            return len(self.db[name]) if name in self.db else None

    def list(self, prefix: str) -> list[str]:
        base = prefix.rstrip("/") + "/" if prefix else ""
        with self.lock:
            keys = [k.decode() for k in self.db.keys()]
        return sorted({k[len(base):].split("/", 1)[0] for k in keys if k.startswith(base)})

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        with self.lock:
            items = [(k.decode(), len(self.db[k])) for k in self.db.keys()]
        for key, size in sorted(items):
            if not prefix or key == prefix or key.startswith(prefix.rstrip("/") + "/"):
                yield ObjectInfo(key, size)

    def delete(self, name: str) -> None:
        with self.lock:
            for key in [k for k in self.db.keys() if k.decode() == name or k.decode().startswith(name + "/")]:
                del self.db[key]

    def close(self) -> None:
        self.db.close()


class DbmUpload(Upload):
    def __init__(self, storage: DbmStorage, name: str) -> None:
        self.storage, self.name, self.parts = storage, name, {}

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        self.parts[number] = data

    def complete(self) -> None:
        self.storage.put(self.name, b"".join(self.parts[n] for n in sorted(self.parts)))

    def abort(self) -> None:
        self.parts.clear()

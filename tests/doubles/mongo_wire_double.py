"""MongoWireDouble: a TEST DOUBLE of a MongoDB node, speaking the real wire protocol on 127.0.0.1.

MongoDB cannot run on our machines, so the mongodb mode is tested against
this double through the real driver (pymongo).  It answers the handshake
(OP_QUERY ``isMaster``/``hello``) and OP_MSG commands — ``hello``, ``fsync``
with ``lock``, ``fsyncUnlock``, ``ping``, ``endSessions``, SCRAM ``saslStart``
— and records every command it receives, in order, so tests can assert the
exact sequence.  ``role`` makes it a primary or a secondary; ``fail`` maps a
command name to the error it answers with (``{"fsync": 8000}``).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import bson

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
HEADER = struct.Struct("<iiii")
HANDSHAKE = ("hello", "ismaster", "isMaster")
BACKGROUND = ("endSessions",)


class MongoWireDouble:
    def __init__(self, role: str = "primary", fail: dict[str, int] | None = None) -> None:
        self.role = role
        self.fail = dict(fail or {})
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.locked = False
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    # ------------------------------------------------------------ what tests read

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def sequence(self) -> list[str]:
        """Command names received, with repeated handshakes folded into one ``hello``."""
        out: list[str] = []
        for name, _ in self.commands:
            name = "hello" if name in HANDSHAKE else name
            if name in BACKGROUND or (name == "hello" and out and out[-1] == "hello"):
                continue
            if name == "hello" and "hello" in out:  # heartbeats of the driver's monitor
                continue
            out.append(name)
        return out

    # ------------------------------------------------------------ server

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with conn:
            while not self._stop.is_set():
                header = _read(conn, HEADER.size)
                if header is None:
                    return
                length, request_id, _, opcode = HEADER.unpack(header)
                body = _read(conn, length - HEADER.size)
                if body is None:
                    return
                if opcode == OP_QUERY:
                    doc = _query_doc(body)
                    reply = self._answer(doc)
                    payload = struct.pack("<iqii", 0, 0, 0, 1) + bson.encode(reply)
                    conn.sendall(HEADER.pack(HEADER.size + len(payload), 0, request_id, OP_REPLY) + payload)
                elif opcode == OP_MSG:
                    flags, doc = _msg_doc(body)
                    reply = self._answer(doc)
                    if flags & 0x2:  # moreToCome: no reply expected
                        continue
                    payload = struct.pack("<I", 0) + b"\0" + bson.encode(reply)
                    conn.sendall(HEADER.pack(HEADER.size + len(payload), 0, request_id, OP_MSG) + payload)
                else:
                    return

    def _answer(self, doc: dict[str, Any]) -> dict[str, Any]:
        name = next(iter(doc))
        with self._lock:
            self.commands.append((name, dict(doc)))
        if name in self.fail:
            code = self.fail[name]
            return {"ok": 0.0, "errmsg": f"{name} failed (double)", "code": code, "codeName": "DoubleFailure"}
        if name in HANDSHAKE:
            return self._hello()
        if name == "fsync":
            if doc.get("lock"):
                self.locked = True
            return {"ok": 1.0, "info": "now locked against writes", "lockCount": 1}
        if name == "fsyncUnlock":
            self.locked = False
            return {"ok": 1.0, "info": "fsyncUnlock completed", "lockCount": 0}
        if name in ("ping", "endSessions"):
            return {"ok": 1.0}
        return {"ok": 0.0, "errmsg": f"no such command: '{name}'", "code": 59, "codeName": "CommandNotFound"}

    def _hello(self) -> dict[str, Any]:
        primary = self.role == "primary"
        reply: dict[str, Any] = {
            "ismaster": primary, "isWritablePrimary": primary, "secondary": self.role == "secondary",
            "helloOk": True, "maxBsonObjectSize": 16 * 1024 * 1024, "maxMessageSizeBytes": 48_000_000,
            "maxWriteBatchSize": 100_000, "localTime": bson.datetime.datetime.now(bson.tz_util.utc),
            "logicalSessionTimeoutMinutes": 30, "connectionId": 1, "minWireVersion": 0, "maxWireVersion": 17,
            "readOnly": False, "ok": 1.0,
        }
        if self.role != "standalone":
            me = f"127.0.0.1:{self.port}"
            reply.update(setName="rs0", hosts=[me], me=me, setVersion=1)
            if primary:
                reply["primary"] = me
        return reply

    # ------------------------------------------------------------ lifecycle

    def start(self) -> MongoWireDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
        if self._thread.is_alive():
            self._thread.join(5)


@contextmanager
def mongo_double(role: str = "primary", fail: dict[str, int] | None = None) -> Iterator[MongoWireDouble]:
    double = MongoWireDouble(role, fail).start()
    try:
        yield double
    finally:
        double.stop()


def _read(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = conn.recv(size - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


def _query_doc(body: bytes) -> dict[str, Any]:
    end = body.index(b"\0", 4)  # flags, then the collection name as a C string
    start = end + 1 + 8  # numberToSkip, numberToReturn
    size = struct.unpack_from("<i", body, start)[0]
    doc: dict[str, Any] = bson.decode(body[start:start + size])
    return doc


def _msg_doc(body: bytes) -> tuple[int, dict[str, Any]]:
    flags = struct.unpack_from("<I", body, 0)[0]
    pos, doc = 4, {}
    end = len(body) - (4 if flags & 0x1 else 0)
    while pos < end:
        kind = body[pos]
        pos += 1
        size = struct.unpack_from("<i", body, pos)[0]
        if kind == 0:
            doc = bson.decode(body[pos:pos + size])
        pos += size
    return flags, doc

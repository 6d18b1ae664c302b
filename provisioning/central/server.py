"""The reference central's HTTP server (standard library): snapshot files per region and the outbox receiver.

API (docs/central-api.md):
    GET  /v1/regions/<region>/latest?installed=<N>   which file a box at sequence N should fetch
    GET  /v1/regions/<region>/files/<name>           the file; ``Range: bytes=<from>-`` resumes
    POST /v1/outbox                                  {"box": …, "events": [{"id": …, "sealed": base64}]}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from firmware.keys import load_central_private_key
from firmware.snapshot import REGION

from . import CentralError
from .receipts import Event, Receipts

log = logging.getLogger(__name__)

MAX_BODY: Final = 8 << 20
MAX_EVENTS: Final = 1000
CHUNK: Final = 1 << 20
_FULL: Final = re.compile(r"([0-9]{1,18})\.snap")
_DELTA: Final = re.compile(r"([0-9]{1,18})-([0-9]{1,18})\.delta")
_BOX: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Catalog:
    """The files under ``regions/<region>/`` and their SHA-256 (cached by size and mtime)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._hashes: dict[tuple[Path, int, int], str] = {}
        self._lock = threading.Lock()

    def region_dir(self, region: str) -> Path | None:
        directory = self._root / "regions" / region
        return directory if REGION.fullmatch(region) and directory.is_dir() else None

    def latest(self, region: str, installed: int | None) -> dict[str, Any] | None:
        directory = self.region_dir(region)
        if directory is None:
            return None
        fulls = {int(m.group(1)): p for p in directory.iterdir() if (m := _FULL.fullmatch(p.name))}
        if not fulls:
            return None
        newest = max(fulls)
        if installed is not None and installed >= newest:
            return {"region": region, "sequence": newest, "kind": "none"}
        chosen, kind = fulls[newest], "full"
        delta = directory / f"{installed}-{newest}.delta"
        if installed is not None and delta.is_file():
            chosen, kind = delta, "delta"
        return {"region": region, "sequence": newest, "kind": kind, "base_sequence": installed if kind == "delta"
                else None, "url": f"/v1/regions/{region}/files/{chosen.name}", "size": chosen.stat().st_size,
                "sha256": self.sha256(chosen)}

    def file(self, region: str, name: str) -> Path | None:
        directory = self.region_dir(region)
        if directory is None or not (_FULL.fullmatch(name) or _DELTA.fullmatch(name)):
            return None
        path = directory / name
        return path if path.is_file() else None

    def sha256(self, path: Path) -> str:
        info = path.stat()
        key = (path, info.st_size, info.st_mtime_ns)
        with self._lock:
            if key not in self._hashes:
                digest = hashlib.sha256()
                with open(path, "rb") as handle:
                    while block := handle.read(CHUNK):
                        digest.update(block)
                self._hashes[key] = digest.hexdigest()
            return self._hashes[key]


class CentralServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bind: tuple[str, int], directory: Path) -> None:
        key_path = directory / "sealing.key"
        if not key_path.exists():
            raise CentralError(f"{key_path} missing: run `resetline central keygen --dir {directory}` first")
        self.catalog = Catalog(directory)
        self.receipts = Receipts(directory / "central.db", load_central_private_key(key_path))
        super().__init__(bind, _Handler)

    def server_close(self) -> None:
        super().server_close()
        self.receipts.close()


class _Handler(BaseHTTPRequestHandler):
    server: CentralServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.info("%s %s", self.address_string(), format % args)

    def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json(status, {"error": message})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["v1", "regions"] and parts[3] == "latest":
            installed = parse_qs(url.query).get("installed", [None])[0]
            if installed is not None and not installed.isdigit():
                return self._error(HTTPStatus.BAD_REQUEST, "installed must be a sequence number")
            latest = self.server.catalog.latest(parts[2], None if installed is None else int(installed))
            if latest is None:
                return self._error(HTTPStatus.NOT_FOUND, f"no snapshot published for region {parts[2]!r}")
            return self._json(HTTPStatus.OK, latest)
        if len(parts) == 5 and parts[:2] == ["v1", "regions"] and parts[3] == "files":
            path = self.server.catalog.file(parts[2], parts[4])
            if path is None:
                return self._error(HTTPStatus.NOT_FOUND, "no such file")
            return self._send_file(path)
        self._error(HTTPStatus.NOT_FOUND, "unknown path")

    def _send_file(self, path: Path) -> None:
        size = path.stat().st_size
        start = 0
        wanted = self.headers.get("Range")
        if wanted:
            match = re.fullmatch(r"bytes=([0-9]+)-", wanted.strip())
            if match is None or int(match.group(1)) > size:
                return self._error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "only 'bytes=N-' within the file")
            start = int(match.group(1))
        self.send_response(HTTPStatus.PARTIAL_CONTENT if wanted else HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size - start))
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        with open(path, "rb") as handle:
            handle.seek(start)
            while block := handle.read(CHUNK):
                self.wfile.write(block)

    def do_POST(self) -> None:  # noqa: N802
        if urlsplit(self.path).path.rstrip("/") != "/v1/outbox":
            return self._error(HTTPStatus.NOT_FOUND, "unknown path")
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            return self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body must be 1..{MAX_BODY} bytes")
        try:
            box, events = _parse_outbox(self.rfile.read(length))
        except ValueError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, str(exc))
        try:
            result = self.server.receipts.record(box, events)
        except CentralError as exc:
            log.error("%s", exc)
            return self._error(HTTPStatus.SERVICE_UNAVAILABLE, "cannot record events now; retry later")
        self._json(HTTPStatus.OK, result)


def _parse_outbox(body: bytes) -> tuple[str, list[Event]]:
    """The box name and its events; ValueError says what is wrong with the request."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValueError("body is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("box"), str) or not _BOX.fullmatch(data["box"]):
        raise ValueError("'box' must be the box's name (letters, digits, '.', '_', '-')")
    raw = data.get("events")
    if not isinstance(raw, list) or len(raw) > MAX_EVENTS:
        raise ValueError(f"'events' must be a list of at most {MAX_EVENTS}")
    events = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int) or isinstance(item["id"], bool) \
                or item["id"] < 1 or not isinstance(item.get("sealed"), str):
            raise ValueError("each event needs an 'id' (whole number >= 1) and 'sealed' (base64)")
        try:
            sealed = base64.b64decode(item["sealed"], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"event {item['id']}: 'sealed' is not base64") from exc
        events.append(Event(item["id"], sealed))
    return data["box"], events

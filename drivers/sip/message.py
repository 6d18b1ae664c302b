"""SIP messages as data: bytes in, a `SipMessage` out, and back; sans-I/O, no sockets, no pjsua2.

Only what the SIP front needs to route a message: the start line, the headers as an ordered list (compact forms
expanded, comma-joined Via/Route/Record-Route values split one per entry), the body, and the framing of a TCP
byte stream by Content-Length. Header values are kept as text; URIs and parameters are read by small helpers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import SipError

#: compact header forms (RFC 3261 §7.3.3 and later RFCs) → canonical names
COMPACT = {
    "i": "Call-ID", "v": "Via", "f": "From", "t": "To", "m": "Contact", "l": "Content-Length",
    "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding", "o": "Event",
}
#: canonical spelling of headers we read or write; others keep the sender's spelling
CANONICAL = {name.lower(): name for name in (
    "Via", "Call-ID", "CSeq", "From", "To", "Contact", "Content-Length", "Content-Type", "Route",
    "Record-Route", "Max-Forwards", "P-Asserted-Identity", "Remote-Party-ID", "Privacy", "Allow", "Accept",
)}
#: headers whose comma-separated values are separate entries (split so one entry can be popped)
MULTI = frozenset({"Via", "Route", "Record-Route"})
MAX_MESSAGE = 65_536


class SipParseError(SipError):
    """Bytes that are not a SIP message we can route."""


def canonical(name: str) -> str:
    name = name.strip()
    lower = name.lower()
    if lower in COMPACT:
        return COMPACT[lower]
    return CANONICAL.get(lower, name)


@dataclass
class SipMessage:
    """One SIP request or response; `headers` keeps order, `body` is bytes (Content-Length recomputed on output)."""

    start: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    # -- the start line ----------------------------------------------------------------------------------------------
    @property
    def is_request(self) -> bool:
        return not self.start.startswith("SIP/")

    @property
    def method(self) -> str:
        """The request's method, or the CSeq method of a response."""
        if self.is_request:
            return self.start.split(" ", 1)[0].upper()
        return self.cseq_method

    @property
    def status(self) -> int:
        if self.is_request:
            return 0
        parts = self.start.split(" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    @property
    def request_uri(self) -> str:
        parts = self.start.split(" ")
        return parts[1] if self.is_request and len(parts) > 1 else ""

    @property
    def cseq_method(self) -> str:
        value = self.get("CSeq") or ""
        parts = value.split()
        return parts[1].upper() if len(parts) > 1 else ""

    @property
    def call_id(self) -> str:
        return (self.get("Call-ID") or "").strip()

    # -- headers -----------------------------------------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        name = canonical(name)
        return next((value for key, value in self.headers if key == name), None)

    def get_all(self, name: str) -> list[str]:
        name = canonical(name)
        return [value for key, value in self.headers if key == name]

    def remove(self, name: str) -> None:
        name = canonical(name)
        self.headers = [(key, value) for key, value in self.headers if key != name]

    def set(self, name: str, value: str) -> None:
        """Replace every `name` header by one with `value` (at the first one's place, else at the end)."""
        name = canonical(name)
        index = next((i for i, (key, _) in enumerate(self.headers) if key == name), len(self.headers))
        self.remove(name)
        self.headers.insert(index, (name, value))

    def prepend(self, name: str, value: str) -> None:
        """Insert `value` as the first `name` entry (the new top Via, the first Record-Route)."""
        name = canonical(name)
        index = next((i for i, (key, _) in enumerate(self.headers) if key == name), None)
        if index is None:
            index = 1 if self.headers else 0  # right after the first header: keeps Via near the top
        self.headers.insert(index, (name, value))

    def pop(self, name: str) -> str | None:
        """Remove and return the first `name` entry."""
        name = canonical(name)
        for i, (key, value) in enumerate(self.headers):
            if key == name:
                del self.headers[i]
                return value
        return None

    def replace_first(self, name: str, value: str) -> None:
        name = canonical(name)
        for i, (key, _) in enumerate(self.headers):
            if key == name:
                self.headers[i] = (name, value)
                return

    def to_bytes(self) -> bytes:
        lines = [self.start]
        lines += [f"{key}: {value}" for key, value in self.headers if key != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def parse(data: bytes) -> SipMessage:
    """One datagram (or one framed TCP message) → `SipMessage`; raises SipParseError."""
    if len(data) > MAX_MESSAGE:
        raise SipParseError("message too large")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("header section is not UTF-8") from exc
    lines = _unfold(text.split("\n"))
    if not lines or not _is_start_line(lines[0]):
        raise SipParseError("no SIP start line")
    message = SipMessage(lines[0])
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise SipParseError("malformed header line")
        key = canonical(name)
        values = split_commas(value) if key in MULTI else [value.strip()]
        message.headers += [(key, item) for item in values]
    length = message.get("Content-Length")
    if length is not None and length.strip().isdigit():
        body = body[: int(length)]
    message.body = body
    return message


def _unfold(raw: list[str]) -> list[str]:
    lines: list[str] = []
    for line in raw:
        line = line.rstrip("\r")
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        elif line:
            lines.append(line)
    return lines


def _is_start_line(line: str) -> bool:
    if line.startswith("SIP/2.0 "):
        return True
    parts = line.split(" ")
    return len(parts) == 3 and parts[2] == "SIP/2.0" and parts[0].isalpha()


def split_commas(value: str) -> list[str]:
    """Split a header value at commas outside <…> and "…" (Via, Route and Record-Route lists)."""
    items: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0 and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return [item for item in items if item]


# -- Via ------------------------------------------------------------------------------------------------------------
_VIA = re.compile(r"^\s*SIP\s*/\s*2\.0\s*/\s*(?P<proto>[A-Za-z]+)\s+(?P<host>\[[^\]]+\]|[^\s:;]+)(?::(?P<port>\d+))?"
                  r"(?P<params>.*)$")


@dataclass
class Via:
    """One Via entry: protocol, sent-by and its parameters (in order; a flag parameter has value None)."""

    protocol: str
    host: str
    port: int | None
    params: list[tuple[str, str | None]]

    @classmethod
    def parse(cls, value: str) -> Via:
        found = _VIA.match(value)
        if not found:
            raise SipParseError("malformed Via")
        params: list[tuple[str, str | None]] = []
        for item in found.group("params").split(";"):
            name, eq, val = item.strip().partition("=")
            if name:
                params.append((name.lower(), val.strip() if eq else None))
        port = found.group("port")
        return cls(found.group("proto").upper(), found.group("host"), int(port) if port else None, params)

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.params if key == name), None)

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.params)

    def with_param(self, name: str, value: str | None) -> Via:
        params = [(key, val) for key, val in self.params if key != name] + [(name, value)]
        return Via(self.protocol, self.host, self.port, params)

    @property
    def branch(self) -> str:
        return self.param("branch") or ""

    def reply_address(self) -> tuple[str, int]:
        """Where a response to this hop goes (RFC 3261 §18.2.2 with RFC 3581 rport)."""
        host = self.param("received") or self.host.strip("[]")
        rport = self.param("rport")
        port = int(rport) if rport and rport.isdigit() else (self.port or 5060)
        return host, port

    def __str__(self) -> str:
        sent_by = self.host if self.port is None else f"{self.host}:{self.port}"
        params = "".join(f";{key}" if val is None else f";{key}={val}" for key, val in self.params)
        return f"SIP/2.0/{self.protocol} {sent_by}{params}"


# -- URIs -----------------------------------------------------------------------------------------------------------
_URI = re.compile(r"(?:sips?|tel):(?:(?P<user>[^@;>?\s]*)@)?(?P<host>\[[^\]]+\]|[^:;>?\s]+)?(?::(?P<port>\d+))?",
                  re.IGNORECASE)


def uri_host_port(value: str, default_port: int = 5060) -> tuple[str, int] | None:
    """Host and port of the first sip:/sips: URI in `value` (a header value or a Request-URI)."""
    found = _URI.search(value)
    if not found or not found.group("host"):
        return None
    port = found.group("port")
    return found.group("host").strip("[]"), int(port) if port else default_port


def tag_of(value: str) -> str | None:
    """The `tag` parameter of a From/To value (outside the <URI>)."""
    after = value.rsplit(">", 1)[-1] if ">" in value else value
    found = re.search(r";\s*tag\s*=\s*([^;\s]+)", after, re.IGNORECASE)
    return found.group(1) if found else None


# -- a TCP byte stream ----------------------------------------------------------------------------------------------
class StreamFramer:
    """Cuts a SIP-over-TCP byte stream into messages by Content-Length; CRLF keep-alives are skipped."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_MESSAGE:
                    raise SipParseError("header section too long")
                return messages
            length = _content_length(self._buffer[:end])
            total = end + 4 + length
            if len(self._buffer) < total:
                return messages
            messages.append(self._buffer[:total])
            self._buffer = self._buffer[total:]


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            text = value.strip()
            if not text.isdigit() or int(text) > MAX_MESSAGE:
                raise SipParseError("bad Content-Length on a stream")
            return int(text)
    raise SipParseError("no Content-Length on a stream")

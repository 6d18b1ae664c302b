"""Who is calling, from an INVITE's headers: a pure function, believed only from trusted peers.

Order: P-Asserted-Identity, else Remote-Party-ID, else From (RFC 3325, draft-ietf-sip-privacy-04, RFC 3261).
No caller ID (None) when the INVITE did not come from a trusted peer, when it asks for privacy (`Privacy: id`,
`header` or `user`; RPID `privacy=full|uri|name`), or when the identity is anonymous or carries no number.
The display name is never used: it is whatever the far end typed.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from .message import split_commas

#: Privacy header values that withhold the caller's identity
PRIVATE = frozenset({"id", "header", "user"})
#: user parts that mean "no number" as gateways and carriers send them
ANONYMOUS_USERS = frozenset({"anonymous", "restricted", "unknown", "unavailable", "private", "withheld", ""})
_URI = re.compile(r"<?\s*(?P<scheme>sips?|tel):(?P<rest>[^>\s]*)", re.IGNORECASE)
_VISUAL = re.compile(r"[\s\-.()]")


def caller_id(
    headers: Sequence[tuple[str, str]], source: str | None, trusted_peers: Iterable[str]
) -> str | None:
    """The number to believe for this INVITE, or None. `headers` use canonical names (see `message.parse`)."""
    if source is None or not is_trusted(source, trusted_peers):
        return None
    values = _Headers(headers)
    if values.privacy() & PRIVATE:
        return None
    for value in values.all("P-Asserted-Identity"):
        number = number_of(value)
        if number is not None:
            return number
    for value in values.all("Remote-Party-ID"):
        if _rpid_private(value):
            return None
        return number_of(value)
    from_value = values.first("From")
    return number_of(from_value) if from_value is not None else None


def is_trusted(source: str, trusted_peers: Iterable[str]) -> bool:
    """True when `source` (an IP address) is one of `trusted_peers` (addresses or networks such as 10.0.0.0/24)."""
    try:
        address = ipaddress.ip_address(source.strip("[]"))
    except ValueError:
        return False
    for peer in trusted_peers:
        try:
            if address in ipaddress.ip_network(peer.strip(), strict=False):
                return True
        except ValueError:
            continue  # config validation names bad entries; an unparsable one never trusts anybody
    return False


def number_of(value: str) -> str | None:
    """The caller's number from a name-addr (`"x" <sip:0912345678@gw;user=phone>`), or None when anonymous."""
    found = _URI.search(value)
    if not found:
        return None
    scheme, rest = found.group("scheme").lower(), found.group("rest")
    if scheme == "tel":
        user = rest.split(";", 1)[0]
    else:
        user, at, host = rest.partition("@")
        if not at:
            return None
        if host.split(";", 1)[0].split(":", 1)[0].lower() == "anonymous.invalid":
            return None
        user = user.split(";", 1)[0]
    user = _VISUAL.sub("", _unescape(user))
    if user.lower() in ANONYMOUS_USERS:
        return None
    digits = user[1:] if user.startswith("+") else user
    if not digits.isdigit() or len(digits) < 3:
        return None
    return user


def _rpid_private(value: str) -> bool:
    params = value.rsplit(">", 1)[-1]
    found = re.search(r";\s*privacy\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
    return bool(found) and found.group(1).lower() in ("full", "uri", "name")  # type: ignore[union-attr]


def _unescape(text: str) -> str:
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)


class _Headers:
    def __init__(self, headers: Sequence[tuple[str, str]]) -> None:
        self._headers = [(name.lower(), value) for name, value in headers]

    def all(self, name: str) -> list[str]:
        found: list[str] = []
        for key, value in self._headers:
            if key == name.lower():
                found += split_commas(value)
        return found

    def first(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def privacy(self) -> set[str]:
        tokens: set[str] = set()
        for value in self.all("Privacy"):
            tokens |= {token.strip().lower() for token in re.split(r"[;,]", value)}
        return tokens

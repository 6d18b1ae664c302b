"""The SIP line: answers an FXO gateway or a SIP trunk with pjsua2 (docs/sip.md).

`SipLine` lives in the daemon and never imports pjsua2: a small SIP front (`front`, routing by `router`) owns the
configured port and hands each call to one of a few pjsua2 worker processes (`worker`), each of which owns one
pjsua2 Endpoint in one thread. Why processes: a pjsua2 build caps the calls of an Endpoint at its compile-time
PJSUA_MAX_CALLS (4 in the x86_64 wheel) and a process holds one Endpoint (docs/sip.md, "Concurrency").
"""
from __future__ import annotations

from .. import DriverError


class SipError(DriverError):
    """Root of every error the SIP line raises on purpose."""


from .line import SipLine  # noqa: E402  (SipError must exist before the line module imports it)

__all__ = ["SipError", "SipLine"]

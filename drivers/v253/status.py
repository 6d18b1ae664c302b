"""What the line knows about itself, for `V253Line.report()`: written by the line's thread, read from any thread
(a lock, copies out). Nothing in it identifies a caller."""
from __future__ import annotations

from drivers.serialmodem.status import StatusBoard


class LineStatus(StatusBoard):
    def __init__(self, *, line: str, profile: str, family: str, port: str, dtmf: str,
                 unverified: tuple[str, ...]) -> None:
        self._family = family
        self._dtmf = dtmf
        super().__init__({
            "line": line,
            "profile": profile,
            "port": port,
            "state": "starting",
            "identity": {},  # ati0, ati3, manufacturer, model, revision: what the stick says it is
            "family": None,  # the chipset family its ATI0 names (usr, conexant) or None
            "formats": [],  # AT+VSM=? as read: "code name" strings
            "format": None,  # {"fmt", "code", "command"} chosen, or the profile's fallback
            "format_fallback": False,
            "duplex": None,  # AT+VTR available
            "dtmf": dtmf,
            "caller_id": None,  # "on", or "refused" (every caller is then treated as withheld)
            "calls": 0,
            "hangups": {},  # how calls ended on the far side: reason → count
            "underruns": 0,  # <DLE>u: we fed the modem too slowly
            "overruns": 0,  # <DLE>o: we read too slowly
            "last_error": None,
            "faults": [],
            "recoveries": 0,
            "last_recovery": None,  # the ladder's rung that brought the stick back: probe, reset, usb, power
            "settings_restored": 0,  # caller ID found off (a silent reset) and turned on again
            "bring_up_s": None,
            "unverified": list(unverified),
        })

    def _faults(self) -> list[str]:
        data, faults = self._data, []
        family = data["family"]
        if self._family != "any" and data["identity"].get("ati0") is not None and family != self._family:
            faults.append(f"profile {data['profile']} expects a {self._family} stick; ATI0 says "
                          f"{data['identity'].get('ati0')!r}")
        if data["caller_id"] == "refused":
            faults.append("the stick refused caller ID: every caller is treated as withheld")
        if data["format_fallback"]:
            faults.append("AT+VSM=? unreadable: the profile's sample format is assumed")
        if data["duplex"] is False and self._dtmf == "detector":
            faults.append("no full duplex (AT+VTR): keys during prompts come from the modem's reports only")
        return faults

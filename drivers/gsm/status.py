"""What the line knows about itself, for `GsmLine.report()` and `resetline line test`: written by the line's
thread, read from any thread (a lock, copies out). Numbers in it are masked."""
from __future__ import annotations

from drivers.serialmodem.status import StatusBoard

_REGISTERED = {"home", "roaming"}


class LineStatus(StatusBoard):
    def __init__(self, *, line: str, profile: str, port: str, audio: str, audio_port: str | None,
                 needs_volte: bool, sms_notice: bool, unverified: tuple[str, ...]) -> None:
        super().__init__({
            "line": line,
            "profile": profile,
            "port": port,
            "state": "starting",
            "manufacturer": None,
            "model": None,
            "firmware": None,
            "imei": None,
            "sim": None,
            "registration": None,
            "ims": "not applicable (2G)" if not needs_volte else None,
            "volte_required": needs_volte,
            "signal": None,
            "audio": {"path": audio, "port": audio_port},
            "files": None,
            "sms": "not checked" if not sms_notice else None,
            "last_error": None,
            "faults": [],
            "recoveries": 0,
            "settings_restored": 0,  # the modem forgot its settings (a reset) and was given them again
            "last_recovery": None,  # the rung that brought the modem back: probe, reset, usb, power (or failed)
            "calls": 0,
            "bring_up_s": None,
            "unverified": list(unverified),
        })
        self._needs_volte = needs_volte
        self._sms_notice = sms_notice

    def _faults(self) -> list[str]:
        data, faults = self._data, []
        if data["sim"] not in (None, "READY"):
            faults.append(f"SIM: {data['sim']}")
        if data["registration"] is not None and data["registration"] not in _REGISTERED:
            faults.append(f"not registered on the network ({data['registration']})")
        if self._needs_volte and data["ims"] not in (None, "registered"):
            faults.append(
                f"not registered for VoLTE (IMS {data['ims']}): calls cannot reach this line once 2G/3G are off"
            )
        files = data["files"]
        if files and files.get("missing"):
            faults.append(f"prompts missing from the modem's file store: {', '.join(files['missing'])}")
        if self._sms_notice and data["sms"] not in (None, "ready"):
            faults.append(f"SMS notices configured but SMS is {data['sms']}")
        return faults

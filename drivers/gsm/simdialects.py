"""How each simulated modem talks: the simulator's own copy of the three dialects (modems.md), kept apart from
`profiles.py` on purpose so the driver's profile and the simulator check each other rather than agree by
construction."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str
    ati: tuple[str, ...]
    lte: bool  # answers +CEREG/+CIREG and (EC25) AT+QCFG="ims"
    usb: bool  # AT+CFUN=1,1 re-enumerates: the port vanishes while the modem boots
    boot_urcs: tuple[str, ...]
    dtmf_enable: str  # the command (prefix) that switches key reports on: "AT+QTONEDET=" / "AT+DDET="
    dtmf_format: str  # "{ascii}" or "{key}" inside the URC
    call_state_enable: str  # the command prefix switching call-state URCs on
    call_state: str  # "ccinfo" or "clcc"
    play_command: str  # regex; group "path"
    play_end: str
    stop_command: str
    stop_emits_end: bool
    play_busy: str  # the reply when a playback is already running (one at a time)
    play_missing: str  # the reply when the file is not there
    upload: str  # "qfupl", "cftranrx" or "fswrite"
    prefixes: tuple[str, ...]  # path prefixes stripped from file names ("UFS:", "c:/", "C:\\User\\")
    hangup_urcs: tuple[str, ...]  # sent when the caller hangs up an answered call
    missed_urcs: tuple[str, ...]  # sent when the caller gives up while it rings
    pcm_on: tuple[str, ...] = ()
    pcm_off: tuple[str, ...] = ()
    notice: str = '+CTZV: 26/01/05,10:00:00,+28'  # a network notice (time zone report)

    def dtmf_urc(self, key: str) -> str:
        return self.dtmf_format.format(ascii=ord(key), key=key)


EC25 = Dialect(
    name="ec25",
    ati=("Quectel", "EC25", "Revision: EC25EFAR06A06M4G"),
    lte=True,
    usb=True,
    boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"),
    dtmf_enable="AT+QTONEDET=",
    dtmf_format="+QTONEDET: {ascii}",
    call_state_enable='AT+QINDCFG="ccinfo",',
    call_state="ccinfo",
    play_command=r'AT\+QPSND=1,"(?P<path>[^"]+)",0(?:,\d,\d)?$',
    play_end="+QPSND: 0",
    stop_command="AT+QPSND=0",
    stop_emits_end=False,
    play_busy="+CME ERROR: 3",
    play_missing="+CME ERROR: 405",
    upload="qfupl",
    prefixes=("UFS:",),
    hangup_urcs=("NO CARRIER",),
    missed_urcs=("NO CARRIER",),
    pcm_on=("AT+QPCMV=1,0",),
    pcm_off=("AT+QPCMV=0",),
    notice='+QIND: "act","LTE"',
)

SIM7600 = Dialect(
    name="sim7600",
    ati=("Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600G-H", "Revision: LE20B04SIM7600G22",
         "IMEI: {imei}", "+GCAP: +CGSM"),
    lte=True,
    usb=True,
    boot_urcs=("RDY", "+CPIN: READY", "SMS DONE", "PB DONE"),
    dtmf_enable="AT+DDET=",
    dtmf_format="+RXDTMF: {key}",
    call_state_enable="AT+CLCC=",
    call_state="clcc",
    play_command=r'AT\+CCMXPLAY="(?P<path>[^"]+)",1,0$',
    play_end="+AUDIOSTATE: audio play stop",
    stop_command="AT+CCMXSTOP",
    stop_emits_end=True,
    play_busy="ERROR",
    play_missing="ERROR",
    upload="cftranrx",
    prefixes=("c:/", "C:/", "e:/", "E:/"),
    hangup_urcs=("VOICE CALL: END: 000012", "NO CARRIER"),
    missed_urcs=("MISSED_CALL: 10:00AM {number}",),
    pcm_on=("AT+CPCMFRM=0", "AT+CPCMREG=1"),
    pcm_off=("AT+CPCMREG=0",),
)

SIM800 = Dialect(
    name="sim800",
    ati=("SIM800 R14.18",),
    lte=False,
    usb=False,
    boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"),
    dtmf_enable="AT+DDET=",
    dtmf_format="+DTMF: {key}",
    call_state_enable="AT+CLCC=",
    call_state="clcc",
    play_command=r'AT\+CREC=4,"(?P<path>[^"]+)",0,\d+(?:,\d)?$',
    play_end="+CREC: 0",
    stop_command="AT+CREC=5",
    stop_emits_end=False,
    play_busy="+CME ERROR: 3",
    play_missing="+CME ERROR: 5008",
    upload="fswrite",
    prefixes=("C:\\User\\", "C:\\"),
    hangup_urcs=("NO CARRIER",),
    missed_urcs=("NO CARRIER",),
    notice="*PSUTTZ: 2026,1,5,3,0,0,\"+28\",0",
)

DIALECTS = {d.name: d for d in (EC25, SIM7600, SIM800)}

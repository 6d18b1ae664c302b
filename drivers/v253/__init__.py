"""Analog line driver: ITU-T V.253 USB voice modems (USRobotics USR5637, Conexant CX93010 sticks, and a generic
V.253 profile) answering a copper line.

Layers (STYLE.md rule 3): `codec` turns the modem's bytes into result lines, DLE-shielded events and audio
(sans-I/O, split buffers anywhere); `engine` keeps one command in flight; `transport` opens the port; the
`voicepath` runs the call's audio sessions (`AT+VTR` full duplex, or `AT+VTX`/`AT+VRX` half duplex) with real-time
pacing; `calls`, `callerid`, `keys` and `hangup` are pure decisions; `line.V253Line` owns the one thread. Each
stick's quirks are data in `profiles`. `simulator.V253Simulator` is a voice modem and a caller's line on a
pseudo-terminal: product code for the demo, field dry runs and the tests.
"""
from drivers import DriverError


class V253Error(DriverError):
    """Root of every error the V.253 driver raises on purpose."""


from .timings import V253Timings  # noqa: E402  (V253Error must exist before the submodules import it)
from .line import V253Line  # noqa: E402
from .simulator import V253Simulator  # noqa: E402

__all__ = ["V253Error", "V253Line", "V253Simulator", "V253Timings"]

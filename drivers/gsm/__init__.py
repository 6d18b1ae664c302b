"""GSM/LTE line driver: AT commands over pyserial for Quectel EC25 and SIMCom SIM7600 (calls over VoLTE), SIM800
for the lab only (2G is off in Vietnam).

Layers (STYLE.md rule 3): `codec` turns bytes into events (sans-I/O), `engine` keeps one command in flight with
timeouts and bounded retries, `transport` opens the port (pyserial URL, exclusive), `line.GsmLine` owns the one
reader thread; each modem's dialect is data in `profiles`. `simulator.ModemSimulator` speaks a profile's dialect on
a pseudo-terminal: product code for the demo, field dry runs and the tests.
"""
from drivers import DriverError


class GsmError(DriverError):
    """Root of every error the GSM driver raises on purpose."""


from .line import GsmLine  # noqa: E402  (GsmError must exist before the submodules import it)
from .simulator import ModemSimulator  # noqa: E402
from .timings import GsmTimings  # noqa: E402

__all__ = ["GsmError", "GsmLine", "GsmTimings", "ModemSimulator"]

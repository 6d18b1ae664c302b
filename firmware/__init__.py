"""The appliance: call flow, verification, journal and outbox, configuration, daemon."""


class FirmwareError(Exception):
    """Root of every error the firmware package raises on purpose."""

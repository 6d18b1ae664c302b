"""Everything done *to* the box: command line, snapshot import, (later) console, YMODEM, sync."""


class ProvisioningError(Exception):
    """Root of every error the provisioning package raises on purpose."""

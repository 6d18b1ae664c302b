"""Telephony hardware and protocols: line drivers, simulators, audio. Knows nothing about BHXH."""


class DriverError(Exception):
    """Root of every error a driver raises on purpose."""

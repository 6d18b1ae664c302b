"""A small reference central: key generation, per-region snapshot and delta files over HTTP, and the outbox receiver.

What BHXH's integrators build against; the HTTP API is in docs/central-api.md. The layout of
its directory (``--dir``):

    signing.key  signing.pub     Ed25519: central signs snapshots, boxes verify (keygen)
    sealing.key  sealing.pub     Curve25519: boxes seal resets, central opens them (keygen)
    regions/<region>/<N>.snap    full snapshots, published by `snapshot build --out` (an atomic rename)
    regions/<region>/<M>-<N>.delta   deltas from sequence M to N (`snapshot delta --out`)
    central.db                   received outbox events (created by `central serve`, 0o600)
"""

from __future__ import annotations

from .. import ProvisioningError


class CentralError(ProvisioningError):
    """The reference central cannot start or cannot record an event."""

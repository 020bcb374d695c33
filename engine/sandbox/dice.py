"""Seeded randomness: every decision about a request comes from that request's own stream.

The stream of a request is derived from ``(seed, reset epoch, API key, exact body bytes,
how many times this key already sent these exact bytes)``. So the same seed and the same
requests give the same wamids, faults and statuses, even when requests interleave
differently (concurrent clients), and a client retrying the same body draws fresh dice.

Wamids look like Meta's (``wamid.`` + base64 of a small binary record that embeds the
recipient) and are unique for the life of the process: every issued token is remembered.
"""

from __future__ import annotations

import base64
import math
import random
from hashlib import blake2b
from typing import Final

from engine.sandbox.config import Distribution

_Z99: Final = 2.3263478740408408  # standard normal 99th percentile
_LN100: Final = math.log(100.0)
_WAMID_MID: Final = b"\x15\x02\x00\x11\x18\x12"


def sample_ms(rng: random.Random, dist: Distribution) -> float:
    """A delay in ms: log-normal through (p50, p99); exponential with that p99 if p50 is 0."""
    p50, p99 = dist.p50_ms, dist.p99_ms
    if p99 <= p50:
        return p50
    if p50 <= 0.0:
        return p99 * -math.log(1.0 - rng.random()) / _LN100
    sigma = math.log(p99 / p50) / _Z99
    return p50 * math.exp(sigma * rng.gauss(0.0, 1.0))


class Dice:
    """Per-request random streams, wamids and trace ids under one seed (one event loop)."""

    __slots__ = ("_epoch", "_issued", "_ordinals", "_salt", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._epoch = 0
        self._salt = self._make_salt()
        self._ordinals: dict[bytes, int] = {}
        self._issued: set[int] = set()

    def __repr__(self) -> str:
        return f"<Dice seed={self.seed} epoch={self._epoch} wamids={len(self._issued)}>"

    def _make_salt(self) -> bytes:
        return blake2b(f"sandbox:{self.seed}:{self._epoch}".encode(), digest_size=16).digest()

    def reset(self) -> None:
        """New epoch: forget ordinals; wamids issued before stay reserved (never reissued)."""
        self._epoch += 1
        self._salt = self._make_salt()
        self._ordinals.clear()

    def for_request(self, api_key: str, body: bytes) -> random.Random:
        """The stream for this request (advances the ordinal of ``(api_key, body)``)."""
        h = blake2b(body, digest_size=16, key=self._salt)
        h.update(api_key.encode())
        digest = h.digest()
        n = self._ordinals.get(digest, 0)
        self._ordinals[digest] = n + 1
        return random.Random((int.from_bytes(digest, "big") << 20) + n)

    def for_label(self, label: str) -> random.Random:
        """A stream for a named non-request draw (events), stable under the seed."""
        digest = blake2b(label.encode(), digest_size=16, key=self._salt).digest()
        n = self._ordinals.get(digest, 0)
        self._ordinals[digest] = n + 1
        return random.Random((int.from_bytes(digest, "big") << 20) + n)

    def wamid(self, rng: random.Random, wa_id: str) -> str:
        """A new, never-issued wamid for a message to ``wa_id``."""
        issued = self._issued
        token = rng.getrandbits(72)
        while token in issued:
            token = rng.getrandbits(72)
        issued.add(token)
        phone = wa_id.encode()
        raw = (
            b"\x1c\x18"
            + bytes((len(phone),))
            + phone
            + _WAMID_MID
            + token.to_bytes(9, "big").hex().upper().encode()
            + b"\x00"
        )
        return "wamid." + base64.b64encode(raw).decode()

    @staticmethod
    def fbtrace_id(rng: random.Random) -> str:
        """A Graph-style trace id (23 URL-safe base64 characters)."""
        return base64.urlsafe_b64encode(rng.getrandbits(136).to_bytes(17, "big")).decode()[:23]

"""``GET /health_status`` before a campaign starts and every few minutes while it runs.

BLOCKED (for the number, the WABA, the business or the app) pauses; LIMITED only warns. A
health endpoint that cannot be read is logged and does not stop the campaign: the send
path's own error codes still pause it if the number really cannot send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.logs import get_logger
from engine.wa.client import WabaClient

log = get_logger("engine.health")


@dataclass(frozen=True, slots=True)
class Health:
    status: str  # AVAILABLE | LIMITED | BLOCKED | UNKNOWN
    reason: str

    @property
    def blocked(self) -> bool:
        return self.status == "BLOCKED"


def parse_health(body: Any) -> Health:
    """Worst ``can_send_message`` over the overall value and every entity (pure)."""
    hs = body.get("health_status") if isinstance(body, dict) else None
    if not isinstance(hs, dict):
        return Health("UNKNOWN", "health_status missing from the answer")
    rank = {"AVAILABLE": 0, "LIMITED": 1, "BLOCKED": 2}
    worst, where = str(hs.get("can_send_message", "UNKNOWN")), "overall"
    for entity in hs.get("entities") or []:
        if not isinstance(entity, dict):
            continue
        value = str(entity.get("can_send_message", ""))
        if rank.get(value, -1) > rank.get(worst, -1):
            worst, where = value, str(entity.get("entity_type", "entity"))
    if worst not in rank:
        return Health("UNKNOWN", f"unrecognised can_send_message {worst!r}")
    return Health(worst, f"health {worst} ({where})")


async def check_health(client: WabaClient, campaign: str) -> Health:
    result = await client.get_json("/health_status")
    if result.kind != "http" or result.status != 200:
        log.warning(
            "health_status_unavailable",
            campaign=campaign,
            status=result.status,
            detail=result.detail,
        )
        return Health("UNKNOWN", "health status unavailable")
    health = parse_health(result.body)
    if health.status == "LIMITED":
        log.warning("health_limited", campaign=campaign, reason=health.reason)
    elif health.status == "BLOCKED":
        log.error("health_blocked", campaign=campaign, reason=health.reason)
    return health

"""The campaign report (contract in DESIGN.md) and its human-readable form."""

from __future__ import annotations

from typing import Any

FUNNEL_KEYS = (
    "accepted",
    "sent",
    "delivered",
    "read",
    "failed",
    "suppressed",
    "unknown",
    "pending",
)


def build_report(name: str, state: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Shape raw figures from ``engine.db.reports.campaign_report`` into the report JSON.

    ``by_status`` has exactly one count per final status and its values sum to
    ``recipients``; funnel counts are cumulative (read counts as delivered and sent).
    """
    funnel = raw["funnel"]
    latency = raw["latency"]
    report: dict[str, Any] = {
        "campaign": name,
        "state": state,
        "recipients": int(funnel.get("recipients") or 0),
        "by_status": {k: int(v) for k, v in sorted(raw["by_status"].items())},
    }
    for key in FUNNEL_KEYS:
        report[key] = int(funnel.get(key) or 0)
    report["failed_by_code"] = {str(k): int(v) for k, v in raw["failed_by_code"].items()}
    report["held_for_quality_assessment"] = int(funnel.get("held") or 0)
    report["cancelled"] = int(funnel.get("cancelled") or 0)
    by_category = {k: int(v) for k, v in sorted(raw["cost"].items())}
    report["cost"] = {"billable_messages": sum(by_category.values()), "by_category": by_category}
    report["latency_s"] = {
        p: (round(float(latency[p]), 3) if latency.get(p) is not None else None)
        for p in ("p50", "p90", "p99")
    }
    return report


def format_report(report: dict[str, Any]) -> str:
    """A short human summary of a report."""
    lines = [
        f"campaign {report['campaign']}: {report['state']}, {report['recipients']} recipients",
        "  funnel: "
        + ", ".join(f"{k} {report[k]}" for k in ("accepted", "sent", "delivered", "read")),
        "  outcomes: " + ", ".join(f"{k} {v}" for k, v in report["by_status"].items()),
    ]
    if report["failed_by_code"]:
        lines.append(
            "  failed by code: "
            + ", ".join(f"{k}: {v}" for k, v in report["failed_by_code"].items())
        )
    lat = report["latency_s"]
    if lat["p50"] is not None:
        lines.append(
            f"  accepted->delivered: p50 {lat['p50']}s p90 {lat['p90']}s p99 {lat['p99']}s"
        )
    return "\n".join(lines)

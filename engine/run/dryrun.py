"""`campaign run SPEC --dry-run`: what would happen, without sending or writing anything."""

from __future__ import annotations

import orjson

from engine.commands.database import open_db
from engine.core.render import RenderError, render_template
from engine.db import campaigns
from engine.db.queries import Q
from engine.logs import mask_phone
from engine.run.settings import JobSettings

SAMPLE = 1000


async def dry_run(settings: JobSettings, *, force_new: bool = False) -> int:
    """Print one JSON document: recipients, suppressed, expected duration, render problems.

    Refuses what the real run would refuse (``campaigns.check_run``: no such audience, a
    changed spec without ``force_new``), with the same ``ConfigError`` and exit code, so a
    dry run that passes means the run gets past its checks. Writes nothing (no migration
    either)."""
    async with open_db(apply_migrations=False) as conn:
        check = await campaigns.check_run(
            conn,
            where=settings.spec_path,
            name=settings.name,
            audience=settings.audience,
            spec_hash=settings.spec_hash,
            force_new=force_new,
        )
        row = await conn.fetchrow(Q.dry_run_counts, settings.audience)
        counts = dict(row) if row else {"recipients": 0, "suppressed": 0}
        sample = await conn.fetch(Q.sample_recipients, settings.audience, SAMPLE)
    problems = []
    for rec in sample:
        rendered = render_template(settings.spec.plan, rec["attrs"] or {})
        if isinstance(rendered, RenderError):
            problems.append({"phone": mask_phone(rec["phone"]), "problem": rendered.detail})
    to_send = counts["recipients"] - counts["suppressed"]
    tier = settings.tier_limit
    rate = settings.rate_per_s
    out = {
        "campaign": settings.name,
        "audience": settings.audience,
        "audience_found": True,
        "replaces_campaign": check.replace,
        "recipients": counts["recipients"],
        "suppressed": counts["suppressed"],
        "to_send": to_send,
        "tier_limit": tier if tier is not None else "unlimited",
        "budget_left": None if tier is None else max(0, tier - to_send),
        "rate_per_s": rate,
        "expected_duration_s": round(to_send / rate, 1) if rate else None,
        "render_problems_in_sample": problems[:20],
        "render_problems_count": len(problems),
        "sampled": len(sample),
        "sends": 0,
    }
    print(orjson.dumps(out).decode())
    return 0

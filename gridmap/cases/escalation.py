"""Escalation of overdue cases up the hierarchy grid → community → street → district
(四级流转), on the schedule set by ``cases_escalation_hours``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text

from gridmap.settings import get_settings

LEVELS = ("grid", "community", "street", "district")


@dataclass(frozen=True)
class Escalation:
    """One case raised from one level to another."""

    case_id: int
    from_level: int
    to_level: int


def escalate(
    engine: Engine,
    now: datetime,
    *,
    hours: tuple[float, float, float] | None = None,
    actor: str = "system:escalation",
) -> list[Escalation]:
    """Raise every open case past its due time to the level its lateness calls for, with
    one 'escalate' event per level crossed. Idempotent for the same ``now``."""
    h1, h2, h3 = hours or get_settings().cases_escalation_hours
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT case_id, from_level, to_level "
                "FROM gridmap_escalate_cases(:at, :h1, :h2, :h3, :actor)"
            ),
            {"at": now, "h1": h1, "h2": h2, "h3": h3, "actor": actor},
        ).all()
    return [Escalation(int(c), int(f), int(t)) for c, f, t in rows]

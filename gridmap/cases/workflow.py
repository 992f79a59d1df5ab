"""The case workflow: one table of transitions (居民点单、社区派单、网格接单 … 回访), applied
under a row lock with an append-only event per step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, text

from gridmap.cases.errors import CaseNotFound, TransitionRefused
from gridmap.cases.taxonomy import Taxonomy
from gridmap.errors import InvalidInput, Problem


@dataclass(frozen=True)
class Transition:
    """An action, the statuses it may start from, and where it leads.

    ``needs`` names what the request must carry: ``target`` (a grid_id or a department),
    ``note`` or ``satisfaction``. An action with ``target_if_assigned`` leads there instead
    of ``target`` when the request names a grid or department (reopen → dispatched)."""

    action: str
    sources: frozenset[str]
    target: str
    zh: str
    needs: tuple[str, ...] = ()
    target_if_assigned: str | None = None


TRANSITIONS: tuple[Transition, ...] = (
    Transition("dispatch", frozenset({"reported", "returned"}), "dispatched", "派单", ("target",)),
    Transition("accept", frozenset({"dispatched"}), "accepted", "接单"),
    Transition("return", frozenset({"dispatched", "accepted"}), "returned", "退回", ("note",)),
    Transition("start", frozenset({"accepted"}), "in_progress", "处置"),
    Transition("resolve", frozenset({"accepted", "in_progress"}), "resolved", "办结"),
    Transition("close", frozenset({"resolved"}), "closed", "回访", ("satisfaction",)),
    Transition("reject", frozenset({"reported", "returned"}), "rejected", "驳回", ("note",)),
    Transition(
        "reopen",
        frozenset({"closed", "rejected"}),
        "reported",
        "重办",
        ("note",),
        target_if_assigned="dispatched",
    ),
)
BY_ACTION = {t.action: t for t in TRANSITIONS}


def allowed_actions(status: str) -> list[str]:
    """Actions the table allows from a status, in table order."""
    return [t.action for t in TRANSITIONS if status in t.sources]


@dataclass(frozen=True)
class ActionRequest:
    """One workflow step asked for by an actor."""

    action: str
    actor: str
    note: str | None = None
    grid_id: int | None = None
    department: str | None = None
    satisfaction: int | None = None
    expected_status: str | None = None


_UPDATE = {
    "dispatch": "dispatched_at = now(), grid_id = coalesce(:grid_id, grid_id), "
    "department = :department",
    "resolve": "resolved_at = now()",
    "close": "closed_at = now(), satisfaction = :satisfaction",
    "reopen": "resolved_at = NULL, closed_at = NULL, satisfaction = NULL, escalation_level = 0, "
    "due_at = now() + make_interval(secs => :sla_seconds), "
    "dispatched_at = CASE WHEN :to_status = 'dispatched' THEN now() END, "
    "grid_id = coalesce(:grid_id, grid_id), department = :department",
}


def apply_action(engine: Engine, case_id: int, req: ActionRequest, taxonomy: Taxonomy) -> dict:
    """Carry out one workflow step on a case, under a row lock (concurrent steps on the
    same case serialise; the second sees the first's status). Returns the event written."""
    rule = BY_ACTION.get(req.action)
    if rule is None:
        raise InvalidInput([Problem("action", f"unknown action {req.action!r}")])
    with engine.begin() as conn:
        row = (
            conn.execute(
                text("SELECT status, category, subcategory FROM cases WHERE id = :id FOR UPDATE"),
                {"id": case_id},
            )
            .mappings()
            .first()
        )
        if row is None:
            raise CaseNotFound(f"No case has id {case_id}")
        status = row["status"]
        if req.expected_status and req.expected_status != status:
            raise TransitionRefused(
                f"Case {case_id} is {status}, not {req.expected_status}: it changed meanwhile",
                status=status,
                allowed=allowed_actions(status),
            )
        if status not in rule.sources:
            raise TransitionRefused(
                f"Cannot {req.action} ({rule.zh}) case {case_id}: it is {status}; "
                f"{req.action} applies to {', '.join(sorted(rule.sources))} cases",
                status=status,
                allowed=allowed_actions(status),
            )
        problems = []
        if "target" in rule.needs and req.grid_id is None and req.department is None:
            problems.append(Problem("grid_id", f"{req.action} needs a grid_id or a department"))
        if "note" in rule.needs and not req.note:
            problems.append(Problem("note", f"{req.action} needs a note saying why"))
        if "satisfaction" in rule.needs and req.satisfaction is None:
            problems.append(Problem("satisfaction", f"{req.action} needs satisfaction 1–5"))
        grid_code = None
        if req.grid_id is not None:
            grid_code = conn.execute(
                text("SELECT code FROM grids WHERE id = :id"), {"id": req.grid_id}
            ).scalar()
            if grid_code is None:
                problems.append(Problem("grid_id", f"no grid has id {req.grid_id}"))
        if problems:
            raise InvalidInput(problems)

        assigned = req.grid_id is not None or req.department is not None
        to_status = (
            rule.target_if_assigned if (rule.target_if_assigned and assigned) else (rule.target)
        )
        sla = taxonomy.subcategories.get(row["subcategory"] or "") or taxonomy.by_slug.get(
            row["category"]
        )
        sla_hours = sla.sla_hours if sla else 72.0
        extra = _UPDATE.get(req.action)
        conn.execute(
            text(
                "UPDATE cases SET status = :to_status, updated_at = now()"
                + (f", {extra}" if extra else "")
                + " WHERE id = :id"
            ),
            {
                "id": case_id,
                "to_status": to_status,
                "grid_id": req.grid_id,
                "department": req.department,
                "satisfaction": req.satisfaction,
                "sla_seconds": timedelta(hours=sla_hours).total_seconds(),
            },
        )
        details = []
        if grid_code:
            details.append(f"→ grid {grid_code}")
        if req.department:
            details.append(f"→ department {req.department}")
        if req.satisfaction is not None:
            details.append(f"satisfaction {req.satisfaction}/5")
        note = "; ".join(details + ([req.note] if req.note else [])) or None
        event = (
            conn.execute(
                text(
                    "INSERT INTO case_events (case_id, at, actor, action, from_status, to_status, "
                    "note) VALUES (:id, now(), :actor, :action, :from_status, :to_status, :note) "
                    "RETURNING id, at, actor, action, from_status, to_status, note"
                ),
                {
                    "id": case_id,
                    "actor": req.actor,
                    "action": req.action,
                    "from_status": status,
                    "to_status": to_status,
                    "note": note,
                },
            )
            .mappings()
            .one()
        )
        return dict(event)

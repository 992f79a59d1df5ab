"""Cases, events and cameras as JSON-ready dicts: ISO 8601 times, lon/lat as a location,
category names from the taxonomy, residents' personal data masked (gridmap.access.masking)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from gridmap.access.masking import mask_case
from gridmap.cases.escalation import LEVELS
from gridmap.cases.taxonomy import Taxonomy
from gridmap.cases.workflow import allowed_actions


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with offset, seconds precision (W3C date-time)."""
    return value.isoformat(timespec="seconds") if value else None


def jsonable(value: Any) -> Any:
    """Dates and date-times as ISO 8601 text, recursively through dicts, lists and tuples."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def case_json(row: dict[str, Any], tax: Taxonomy) -> dict[str, Any]:
    """A case row from gridmap.cases.queries as the API shows it, personal data masked
    for the request's user (:func:`gridmap.access.masking.mask_case`)."""
    cat = tax.by_slug.get(row["category"])
    sub = tax.subcategories.get(row["subcategory"] or "")
    out = {
        "id": row["id"],
        "code": row["code"],
        "title": row["title"],
        "description": row["description"],
        "category": row["category"],
        "category_name": {"zh": cat.zh, "en": cat.en} if cat else None,
        "subcategory": row["subcategory"],
        "subcategory_name": {"zh": sub.zh, "en": sub.en} if sub else None,
        "source": row["source"],
        "status": row["status"],
        "allowed_actions": allowed_actions(row["status"]),
        "priority": row["priority"],
        "handling_type": row["handling_type"],
        "reported_at": iso(row["reported_at"]),
        "due_at": iso(row["due_at"]),
        "dispatched_at": iso(row["dispatched_at"]),
        "resolved_at": iso(row["resolved_at"]),
        "closed_at": iso(row["closed_at"]),
        "updated_at": iso(row["updated_at"]),
        "overdue": bool(row["overdue"]),
        "escalation_level": row["escalation_level"],
        "escalation_unit": LEVELS[row["escalation_level"]],
        "department": row["department"],
        "satisfaction": row["satisfaction"],
        "reporter_name": row["reporter_name"],
        "reporter_phone": row["reporter_phone"],
        "address": row["address"],
        "external_id": row["external_id"],
        "location": ({"lon": row["lon"], "lat": row["lat"]} if row["lon"] is not None else None),
        "grid": (
            {"id": row["grid_id"], "code": row["grid_code"], "name": row["grid_name"]}
            if row["grid_id"] is not None
            else None
        ),
    }
    return mask_case(out)


def event_json(event: dict[str, Any]) -> dict[str, Any]:
    """A case_events row."""
    return {
        "id": event["id"],
        "at": iso(event["at"]),
        "actor": event["actor"],
        "action": event["action"],
        "from_status": event["from_status"],
        "to_status": event["to_status"],
        "note": event["note"],
    }


def camera_json(cam: dict[str, Any]) -> dict[str, Any]:
    """A camera near a case, with its distance in metres (0.1 m)."""
    return {
        "id": cam["id"],
        "code": cam["code"],
        "name": cam["name"],
        "kind": cam["kind"],
        "status": cam["status"],
        "distance_m": round(cam["distance_m"], 1),
        "location": {"lon": cam["lon"], "lat": cam["lat"]},
        "grid_id": cam["grid_id"],
    }

"""Residents' personal data shown to whom: the one place that decides.

Personal data of residents are the reporter's name and phone number of a case and the
house number in a case address (a reporter often gives their own door). What each role
sees of them:

============== ================ ================ ===================================
role           reporter name    reporter phone   case address
============== ================ ================ ===================================
admin          full             138****5678      full
grid_lead/     full (own grids  138****5678      full
grid_worker    only, by RLS)
command        surname + "*"    138****5678      full (dispatch needs the place)
planner        —                —                street only (house number dropped)
api_client     —                —                — (intake only: no case reads)
anonymous/CLI  full             138****5678      full (CLI users are administrators)
============== ================ ================ ===================================

Phone numbers are never shown whole by the web app or the APIs, also not inside notes.
A case's history carries the reporter too: the report entry's actor is the reporter's name
(masked like ``reporter_name`` by :func:`mask_event`), and notes may quote the name.
Households (issue 15) carry personal data too: the household head's name and phone and a
ten-household unit lead's name and phone are masked like a reporter's
(:func:`mask_household`), and a household's door (unit, floor, room) is dropped for the
roles that see no names.
Building addresses are of buildings, not people, and stay whole; the staff phone numbers
of grids (``lead_phone``) are work contacts. Serializers call :func:`mask_case` with the
request's user
(``gridmap.api.serialize.case_json`` does for every API and page that uses it).
"""

from __future__ import annotations

import re
from typing import Any

from gridmap.access import Role, User, current_user

#: "12号", "12-3号", "12号楼3单元": the house number and what follows it.
HOUSE_NUMBER = re.compile(r"\s*\d+[\d\-－之]*\s*(号|號|弄|栋|幢|#).*$")
#: A phone number inside free text (mobile 1xx xxxx xxxx, or a landline with area code).
PHONE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
#: A case's free-text fields, where a reporter may have written their number or name.
TEXT_FIELDS = ("title", "description")
#: Roles that see residents' names masked or not at all.
MASKED_ROLES = frozenset({Role.COMMAND, Role.PLANNER, Role.API_CLIENT})


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough to recognise, not enough to call."""
    if not phone:
        return None
    digits = phone.replace(" ", "")
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


def mask_name(name: str | None) -> str | None:
    """张* / 欧阳** / J*** : the first character (a Chinese surname), the rest starred."""
    if not name:
        return None
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1)


def street_only(address: str | None) -> str | None:
    """The address without its house number: 清溪巷62号附近 -> 清溪巷."""
    if not address:
        return None
    return HOUSE_NUMBER.sub("", address).strip() or None


def masks_personal_data(user: User | None) -> bool:
    """Whether ``user`` sees residents' personal data masked."""
    return user is not None and user.role in MASKED_ROLES


def mask_case(case: dict[str, Any], user: User | None = None) -> dict[str, Any]:
    """``case`` (a dict with ``reporter_name``/``reporter_phone``/``address``/``title``/
    ``description`` keys, any of them) as ``user`` (default: the request's user) may see
    it; a new dict. Phone numbers inside the title and description are masked for all."""
    user = user if user is not None else current_user()
    out = dict(case)
    for key in TEXT_FIELDS:  # free text may quote the reporter's phone number or name
        if out.get(key):
            out[key] = mask_text(out[key], case.get("reporter_name"), user)
    if "reporter_phone" in out:
        out["reporter_phone"] = mask_phone(out["reporter_phone"])
    if not masks_personal_data(user):
        return out
    if user.role is Role.COMMAND:
        if "reporter_name" in out:
            out["reporter_name"] = mask_name(out["reporter_name"])
        return out
    for key in ("reporter_name", "reporter_phone"):
        if key in out:
            out[key] = None
    if "address" in out:
        out["address"] = street_only(out["address"]) if user.role is Role.PLANNER else None
    return out


def mask_phones(text: str | None) -> str | None:
    """``text`` with every phone number in it masked (for every role: a case's title as the
    map, the ticker, the lead's table and exports show it)."""
    if not text:
        return text
    return PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0).replace("-", "")) or "", text)


def mask_text(note: str | None, reporter_name: str | None, user: User | None = None) -> str | None:
    """Free text (a history note) as ``user`` may see it: phone numbers masked for all; the
    reporter's name masked like ``reporter_name`` for the roles that see it masked."""
    if not note:
        return note
    user = user if user is not None else current_user()
    out = mask_phones(note) or ""
    name = (reporter_name or "").strip()
    if name and masks_personal_data(user):
        out = out.replace(name, (mask_name(name) if user.role is Role.COMMAND else None) or "*")
    return out


def mask_event(
    event: dict[str, Any], reporter_name: str | None, user: User | None = None
) -> dict[str, Any]:
    """A history entry (``actor``/``note`` keys) as ``user`` may see it, for a case whose
    (unmasked) reporter is ``reporter_name``; a new dict."""
    user = user if user is not None else current_user()
    out = dict(event)
    name = (reporter_name or "").strip()
    actor = out.get("actor")
    if name and actor and actor.strip() == name and masks_personal_data(user):
        out["actor"] = mask_name(name) if user.role is Role.COMMAND else None
    out["note"] = mask_text(out.get("note"), reporter_name, user)
    return out


#: A household's (or ten-household unit's) personal fields: names, phones, its door.
HOUSEHOLD_NAMES = ("head_name", "lead_name")
HOUSEHOLD_PHONES = ("head_phone", "lead_phone")
HOUSEHOLD_DOOR = ("unit", "floor", "room")


def mask_household(row: dict[str, Any], user: User | None = None) -> dict[str, Any]:
    """A household or ten-household unit row as ``user`` (default: the request's user) may
    see it, like :func:`mask_case`: phones masked for all; for command names masked to
    the surname; for the other masked roles no names, phones or door; a new dict."""
    user = user if user is not None else current_user()
    out = dict(row)
    for key in HOUSEHOLD_PHONES:
        if key in out:
            out[key] = mask_phone(out[key])
    if "note" in out:
        out["note"] = mask_phones(out["note"])
    if not masks_personal_data(user):
        return out
    for key in HOUSEHOLD_NAMES:
        if key in out:
            out[key] = mask_name(out[key]) if user.role is Role.COMMAND else None
    if user.role is not Role.COMMAND:
        for key in (*HOUSEHOLD_PHONES, *HOUSEHOLD_DOOR):
            if key in out:
                out[key] = None
    return out

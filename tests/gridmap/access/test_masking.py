"""Households' personal data by role (gridmap.access.masking.mask_household)."""

from __future__ import annotations

import pytest

from gridmap.access import Role, User
from gridmap.access.masking import mask_household

ROW = {"head_name": "欧阳秀英", "head_phone": "13912345678", "unit": "2", "floor": 3,
       "room": "301", "lead_name": "赵联户", "note": "回电 13800001111", "members": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.ADMIN, ("欧阳秀英", "139****5678", "301", "赵联户")),
        (Role.GRID_LEAD, ("欧阳秀英", "139****5678", "301", "赵联户")),
        (Role.COMMAND, ("欧***", "139****5678", "301", "赵**")),
        (Role.PLANNER, (None, None, None, None)),
        (Role.API_CLIENT, (None, None, None, None)),
    ],
)
def test_household_fields_by_role(role: Role, expected: tuple) -> None:
    out = mask_household(ROW, User(1, "u", "u", role, frozenset({1})))
    assert (out["head_name"], out["head_phone"], out["room"], out["lead_name"]) == expected
    assert out["note"] == "回电 138****1111"  # phones in notes: masked for everyone
    assert out["members"] == 1 and ROW["head_phone"] == "13912345678"  # a new dict

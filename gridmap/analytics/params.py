"""The parameters of a service-circle computation, with a stable hash for staleness."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from gridmap.analytics.errors import ParameterError
from gridmap.settings import get_settings

#: Service point kinds, in the order stored with each run (as in the core schema).
SERVICE_KINDS: tuple[str, ...] = (
    "party_service_center",
    "convenience_station",
    "governance_center",
    "police_office",
    "health_station",
    "elderly_care",
)
#: Vulnerable-group columns of buildings.
VULNERABLE: tuple[str, ...] = ("elderly_alone", "disabled", "low_income")


@dataclass(frozen=True)
class CircleParams:
    """Walking speed (km/h), the minutes of each circle, how far (m) a building or point
    may lie from the nearest street node and still be on the network, the half-width (m)
    of the street band drawn as an isochrone, and the kinds computed."""

    speed_kmh: float = 4.5
    minutes: tuple[float, ...] = (5.0, 10.0, 15.0)
    max_snap_m: float = 200.0
    buffer_m: float = 40.0
    kinds: tuple[str, ...] = field(default=SERVICE_KINDS)

    def __post_init__(self) -> None:
        if not 0.5 <= self.speed_kmh <= 30:
            raise ParameterError(f"Walking speed {self.speed_kmh} km/h is not in 0.5–30.")
        minutes = tuple(sorted({float(m) for m in self.minutes}))
        if not minutes or minutes[0] <= 0 or minutes[-1] > 120:
            raise ParameterError("Minutes must be between 0 and 120 (exclusive of 0).")
        object.__setattr__(self, "minutes", minutes)
        if not 0 <= self.max_snap_m <= 5000:
            raise ParameterError(f"Snap distance {self.max_snap_m} m is not in 0–5000.")
        if not 1 <= self.buffer_m <= 500:
            raise ParameterError(f"Street band {self.buffer_m} m is not in 1–500.")
        unknown = [k for k in self.kinds if k not in SERVICE_KINDS]
        if unknown or not self.kinds:
            raise ParameterError(f"Unknown service kind(s): {', '.join(unknown) or 'none'}.")
        object.__setattr__(self, "kinds", tuple(k for k in SERVICE_KINDS if k in self.kinds))

    @classmethod
    def from_settings(cls, **overrides: Any) -> CircleParams:
        """Defaults from the settings (``GRIDMAP_CIRCLES_*``), then ``overrides``."""
        s = get_settings()
        values: dict[str, Any] = {
            "speed_kmh": s.circles_speed_kmh,
            "minutes": tuple(s.circles_minutes),
            "max_snap_m": s.circles_max_snap_m,
            "buffer_m": s.circles_buffer_m,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def reach_m(self, minutes: float) -> float:
        """Metres walked in ``minutes``."""
        return self.speed_kmh * 1000.0 / 60.0 * minutes

    @property
    def max_reach_m(self) -> float:
        return self.reach_m(self.minutes[-1])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["minutes"] = list(self.minutes)
        data["kinds"] = list(self.kinds)
        return data

    def digest(self, job: str) -> str:
        """Hash of the parameters that matter for ``job`` ('coverage' or 'isochrones')."""
        data = self.to_json()
        if job == "coverage":
            data.pop("buffer_m")
        text = json.dumps(data, sort_keys=True)
        return hashlib.sha256(f"{job}:{text}".encode()).hexdigest()[:16]

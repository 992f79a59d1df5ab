"""The export API's contract: the options of ``POST /api/v1/exports`` and the job it
answers (see :mod:`gridmap.api.contract`).

:class:`ExportIn` is the one checker of export options: the API validates the body with
it before the view runs, and :class:`gridmap.io.export.ExportRequest` validates through it
too (the command line, the planning page's export panel, stored jobs), so every door
refuses the same values with the same words. Filters are a model of their own: a filter
name no layer reads, or a value that is not one of the allowed ones, is a 400 naming it
(``"statuses": ["bogus"]`` was a 202 and an empty file).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from gridmap import bounds
from gridmap.analytics.params import SERVICE_KINDS
from gridmap.api.contract import BodyModel, Choice
from gridmap.api.contract import ResponseModel as Out
from gridmap.api.moments import Moment
from gridmap.api.patrol_schemas import NO_CONTROL
from gridmap.cases.filters import SOURCES, STATUSES
from gridmap.cases.taxonomy import get_taxonomy
from gridmap.i18n import LANGUAGES
from gridmap.io.export import CSV_GEOMETRY, FORMATS, ORIENTATIONS, PAPERS
from layers import layer_ids


def _listed(value: Any) -> Any:
    """One value where a list is expected counts as a list of one."""
    return [value] if isinstance(value, str) else value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _some(item: Any, most: int) -> Any:
    return Annotated[
        list[item],
        BeforeValidator(_listed),
        Field(max_length=most),
        AfterValidator(_unique),
    ]


Category = Annotated[str, Choice("category", lambda: list(get_taxonomy().by_slug))]


class ExportFilters(BodyModel):
    """The filters the layers read; any other name is refused. Lists mean "any of"; an
    empty or absent one means no limit. :func:`layers.params.from_filters` turns them
    into the layers' typed parameters."""

    categories: _some(Category, 100) | None = None
    statuses: _some(Literal[STATUSES], len(STATUSES)) | None = None  # type: ignore[valid-type]
    sources: _some(Literal[SOURCES], len(SOURCES)) | None = None  # type: ignore[valid-type]
    circle_kind: Literal[SERVICE_KINDS] | None = None  # type: ignore[valid-type]
    circle_minutes: Annotated[float, Field(ge=1, le=120, allow_inf_nan=False)] | None = None
    circle_euclid: bool | None = None
    patrol_window_h: Annotated[float, Field(ge=0.25, le=744, allow_inf_nan=False)] | None = None
    risk_top: Annotated[int, Field(ge=1, le=1000)] | None = None


#: Area levels of an export, from the largest (the keys of :class:`ExportArea`).
AREA_LEVELS = ("districts", "streets", "communities", "compounds", "grids")
AreaIds = Annotated[
    list[Annotated[int, Strict(), Field(ge=1, le=2**31 - 1)]],
    BeforeValidator(lambda v: [v] if isinstance(v, int) and not isinstance(v, bool) else v),
    Field(max_length=10_000),
    AfterValidator(lambda ids: sorted(set(ids))),
]


class ExportArea(BodyModel):
    """The part of the city an export holds, by the hierarchy 区—街道—社区—小区—网格: ids of
    districts, streets, communities, compounds (小区) and grids; a feature inside any of
    them is written. An id that does not exist is a 400 naming it."""

    districts: AreaIds | None = None
    streets: AreaIds | None = None
    communities: AreaIds | None = None
    compounds: AreaIds | None = None
    grids: AreaIds | None = None


def _box(box: list[float]) -> list[float]:
    minx, miny, maxx, maxy = box
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise ValueError(
            "must be min lon, min lat, max lon, max lat within ±180/±90, each minimum below "
            "its maximum"
        )
    return box


Layer = Annotated[str, Choice("layer", layer_ids)]
Layers = Annotated[
    list[Layer],
    BeforeValidator(_listed),
    Field(min_length=1, max_length=50),
    AfterValidator(_unique),
]


class ExportIn(BodyModel):
    """What to export: layers, format, the view's filters and (print maps) the paper."""

    layers: Layers = Field(description="Layer ids (one or more); a repeated one counts once.")
    format: Literal[FORMATS]  # type: ignore[valid-type]
    bbox: (
        Annotated[
            list[Annotated[float, Field(allow_inf_nan=False)]],
            Field(min_length=4, max_length=4),
            AfterValidator(_box),
        ]
        | None
    ) = Field(None, description="min lon, min lat, max lon, max lat (default: everywhere)")
    filters: ExportFilters | None = None
    area: ExportArea | None = Field(
        None,
        description="Only the features inside these districts, streets, communities, "
        "compounds or grids (ids); default: everywhere the reader may see.",
    )
    time_from: Moment | None = Field(
        None, description="Start of the time window (naive: the case time zone)."
    )
    time_to: Moment | None = Field(None, description="End of the time window (exclusive).")
    language: Literal[LANGUAGES] = "zh-CN"  # type: ignore[valid-type]
    paper: Literal[PAPERS] = "A4"  # type: ignore[valid-type]
    orientation: Literal[ORIENTATIONS] = "landscape"  # type: ignore[valid-type]
    title: (
        Annotated[
            str,
            Strict(),
            StringConstraints(
                strip_whitespace=True, max_length=bounds.MAX_NAME, pattern=NO_CONTROL
            ),
        ]
        | None
    ) = Field(None, description=f"Print map title (at most {bounds.MAX_NAME} characters).")
    csv_geometry: Literal[CSV_GEOMETRY] = "auto"  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _window(self) -> ExportIn:
        if self.time_from and self.time_to and self.time_from >= self.time_to:
            raise ValueError("time_from must be before time_to")
        return self


# -- responses -------------------------------------------------------------------------------


class JobLinks(Out):
    self: str
    download: str | None = None


class ExportJobOut(Out):
    """An export job as its owner sees it."""

    id: str
    status: Literal["queued", "running", "done", "failed", "expired"]
    progress: float
    message: str | None
    file_name: str | None
    size_bytes: int | None
    features: int | None
    layers: list[str] | None
    format: str | None
    created_at: datetime
    finished_at: datetime | None
    links: JobLinks


class ExportJobList(Out):
    exports: list[ExportJobOut]

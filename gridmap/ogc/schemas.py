"""The OGC API's contract: query parameters and responses of ``/ogc…`` as pydantic models
(see :mod:`gridmap.api.contract`), which validate every request before its view runs and
write the same operations into ``/api/openapi.json`` (the ``oas30`` conformance class).

A refused parameter is the OGC exception ``{"code": "InvalidParameterValue",
"description": "limit: …"}`` (the blueprint's error handler formats the contract's
problems). ``limit`` above the ogc_max_limit setting is cut to it, not refused; ``offset``
is at most :data:`~gridmap.ogc.params.MAX_OFFSET`; ``datetime`` lies within
:mod:`gridmap.bounds`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from gridmap.api.contract import CommaList, QueryModel
from gridmap.api.contract import ResponseModel as Out
from gridmap.ogc.params import CRS84, MAX_OFFSET, check_bbox, parse_datetime
from gridmap.settings import get_settings


def _interval(value: str) -> tuple[datetime | None, datetime | None]:
    return parse_datetime(value, ZoneInfo(get_settings().cases_timezone))


def _huge_is_large(value: Any) -> Any:
    """A limit of more digits than any page: the largest page (as any larger limit)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) > 18:
        return 10**18
    return value


def _page_size(value: int) -> int:
    return min(value, get_settings().ogc_max_limit)


class CommonQuery(QueryModel):
    """What every OGC request takes: the format and the language."""

    f: Literal["json", "html"] | None = Field(
        None, description="Response format (default: from the Accept header, else JSON)."
    )
    lang: Annotated[str, StringConstraints(max_length=35)] | None = Field(
        None, description="Language: zh-CN (default) or en."
    )


class ItemsQuery(CommonQuery):
    """A page of features: a box, a time filter (time-stamped collections), paging."""

    bbox: (
        Annotated[
            CommaList[Annotated[float, Field(allow_inf_nan=False)]],
            Field(min_length=4, max_length=6),
            AfterValidator(check_bbox),
        ]
        | None
    ) = Field(
        None,
        description="minlon,minlat,maxlon,maxlat in CRS84 (or the 6-number 3D form); "
        "features intersecting the box.",
    )
    bbox_crs: Literal[CRS84] | None = Field(  # type: ignore[valid-type]
        None, alias="bbox-crs", description="CRS of bbox (CRS84 only)."
    )
    limit: (
        Annotated[int, Field(ge=1), BeforeValidator(_huge_is_large), AfterValidator(_page_size)]
        | None
    ) = Field(
        None,
        description="Features per page (default: the ogc_default_limit setting; larger than "
        "ogc_max_limit: cut to it).",
    )
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = Field(0, description="Features to skip.")
    datetime_: Annotated[str, AfterValidator(_interval)] | None = Field(
        None,
        alias="datetime",
        description="Instant or interval (a/b, ../b, a/..) in RFC 3339, or dates (a local "
        "day); filters time-stamped collections (case_aggregates). From 2000-01-01 to "
        "2100-01-01.",
    )


# -- responses -------------------------------------------------------------------------------


class LinkOut(Out):
    href: str
    rel: str | None = None
    type: str | None = None
    title: str | None = None


class LandingOut(Out):
    title: str
    description: str
    links: list[LinkOut]


class ConformanceOut(Out):
    conformsTo: list[str]
    links: list[LinkOut]


class CollectionOut(Out):
    id: str
    title: str
    description: str
    itemType: str
    crs: list[str]
    extent: dict[str, Any]
    links: list[LinkOut]


class CollectionsOut(Out):
    links: list[LinkOut]
    collections: list[CollectionOut]


class FeatureOut(Out):
    type: Literal["Feature"]
    id: str | int
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None
    links: list[LinkOut] | None = None


class FeatureCollectionOut(Out):
    type: Literal["FeatureCollection"]
    features: list[FeatureOut]
    numberMatched: int
    numberReturned: int
    timeStamp: datetime
    links: list[LinkOut]

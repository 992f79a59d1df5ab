"""Open311 GeoReport v2's contract: request and response models of ``/open311/v2/…`` (see
:mod:`gridmap.api.contract`). Field names are the spec's; limits come from the same places
as the case API's (:mod:`gridmap.api.case_schemas`). Open311 clients may send fields and
parameters the spec has and gridmap ignores (``email``, ``device_id``, ``attribute[…]``…),
so unknown ones are ignored rather than refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from gridmap import bounds
from gridmap.api.case_schemas import NO_NUL, text
from gridmap.api.contract import BodyModel, Choice, CommaList, QueryModel
from gridmap.api.contract import ResponseModel as Out
from gridmap.cases.intake import MAX_LEN, PHONE, RANGES
from gridmap.cases.taxonomy import get_taxonomy

LON, LAT = RANGES["lon"], RANGES["lat"]


def _service_codes() -> list[str]:
    tax = get_taxonomy()
    return [*tax.subcategories, *tax.by_slug]


def _w3c(value: datetime) -> datetime:
    """A window bound: naive means UTC; within gridmap.bounds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not bounds.EARLIEST <= value <= bounds.LATEST:
        raise ValueError(
            f"must lie between {bounds.EARLIEST.date().isoformat()} and "
            f"{bounds.LATEST.date().isoformat()}"
        )
    return value.astimezone(UTC)


ServiceCode = Annotated[str, Choice("service_code", _service_codes)]
W3CMoment = Annotated[datetime, AfterValidator(_w3c)]
Short = Annotated[str, StringConstraints(max_length=100, pattern=NO_NUL)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50, pattern=NO_NUL)]


class Open311Query(QueryModel):
    """Parameters every Open311 resource takes."""

    model_config = ConfigDict(extra="ignore")
    jurisdiction_id: Short | None = None


class RequestsQuery(Open311Query):
    """GET requests: by ids, or by service codes, status and a window of at most 90 days."""

    service_request_id: CommaList[Short] | None = None
    service_code: CommaList[ServiceCode] | None = None
    start_date: W3CMoment | None = None
    end_date: W3CMoment | None = None
    status: CommaList[Annotated[str, Choice("status", lambda: ("open", "closed"))]] | None = None


class RequestIn(BodyModel):
    """POST requests, as form fields (or a JSON object) with the spec's names."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "example": {
                "service_code": "garbage",
                "lat": 30.005,
                "long": 120.015,
                "description": "小区门口垃圾堆积",
                "first_name": "王",
                "phone": "13900001111",
            }
        },
    )
    jurisdiction_id: Short | None = None
    api_key: Short | None = None
    service_code: ServiceCode
    lat: Annotated[float, Field(ge=LAT[0], le=LAT[1], allow_inf_nan=False)] | None = None
    long: Annotated[float, Field(ge=LON[0], le=LON[1], allow_inf_nan=False)] | None = None
    address_string: text("address") | None = None
    address_id: Short | None = None
    email: Short | None = None
    device_id: Short | None = None
    account_id: Short | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    phone: (
        Annotated[str, Field(max_length=MAX_LEN["reporter_phone"], pattern=PHONE.pattern)] | None
    ) = None
    description: text("description") | None = None
    media_url: Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)] | None = None


# -- responses -------------------------------------------------------------------------------


class Endpoint(Out):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Discovery(Out):
    changeset: str
    contact: str | None
    key_service: str
    endpoints: list[Endpoint]


class Service(Out):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ServiceDefinition(Out):
    service_code: str
    attributes: list[Any]


class ServiceRequest(Out):
    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime | None
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Posted(Out):
    #: Absent when the stored request cannot be read back just then (GeoReport v2 allows a
    #: token alone; GET tokens/{token} gives the id later).
    service_request_id: str | None = None
    token: str
    service_notice: str | None
    account_id: str | None


class TokenOut(Out):
    service_request_id: str
    token: str

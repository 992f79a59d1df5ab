"""Open311 GeoReport v2 bodies: JSON as is, or the spec's XML; errors as
``[{code, description}]`` / ``<errors><error>…</error></errors>``. Both the Open311 views and
the API's error handler (:mod:`gridmap.api.errors`) render through here."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from flask import Response, request

from gridmap.api.context import json_response
from gridmap.errors import InvalidInput

#: Open311 names of gridmap's intake fields, for error messages.
OPEN311_FIELD = {
    "lon": "long",
    "lat": "lat",
    "title": "description",
    "reporter_phone": "phone",
    "reporter_name": "first_name",
    "address": "address_string",
    "category": "service_code",
    "subcategory": "service_code",
}


def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(child, k, v)
    elif isinstance(value, list):
        item = {
            "endpoints": "endpoint",
            "formats": "format",
            "attributes": "attribute",
            "values": "value",
        }.get(key, "item")
        for v in value:
            _xml_value(child, item, v)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def render(fmt: str, payload: Any, root: str, item: str | None = None, status: int = 200):
    """JSON as is; XML as <root><item>…</item>…</root> (or <root>…</root> for a dict)."""
    if fmt == "json":
        return json_response(payload, status)
    top = ET.Element(root)
    if item is None:
        for k, v in payload.items():
            _xml_value(top, k, v)
    else:
        for entry in payload:
            _xml_value(top, item, entry)
    body = ET.tostring(top, encoding="unicode", xml_declaration=False)
    return Response(
        '<?xml version="1.0" encoding="utf-8"?>\n' + body,
        status=status,
        mimetype="text/xml",
    )


def error_response(status: int, exc: Exception, body: dict[str, Any]):
    """Open311 errors: [{code, description}] / <errors><error>…</error></errors>."""
    fmt = "xml" if request.path.endswith(".xml") else "json"
    if isinstance(exc, InvalidInput):
        errors = [
            {"code": status, "description": f"{OPEN311_FIELD.get(p.field, p.field)}: {p.message}"}
            for p in exc.problems
        ]
    else:
        errors = [{"code": status, "description": body["message"]}]
    return render(fmt, errors, "errors", "error", status)

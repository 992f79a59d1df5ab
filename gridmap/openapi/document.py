"""The OpenAPI 3.0 document of gridmap's HTTP APIs, built from the app's own URL map.

Every route under :data:`API_PREFIXES` becomes an operation: its path and path parameters
come from the Werkzeug rule (so a new route is listed the moment it is registered), its
summary and description from the view's docstring. A route with a ``@contract``
(:mod:`gridmap.api.contract`) gets its parameters, requestBody and responses from the
same pydantic models that validate its requests (the OGC API's too, whose conformance
class ``oas30`` asks for them: :mod:`gridmap.ogc.schemas`); a route without one gets its
path parameters and the common errors.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import replace
from typing import Any

from flask import Flask

from gridmap import __version__
from gridmap.access.policy import Access, level_of
from gridmap.api.contract import (
    Components,
    contract_of,
    operation_parts,
    render_reply,
    standard_errors,
)
from gridmap.catchall import is_catch_all

#: Path prefixes of the HTTP APIs the document describes (pages and Dash internals are not).
API_PREFIXES = ("/api/", "/open311/", "/ogc", "/tiles/")
#: Tag of the operations under each prefix.
TAGS = {
    "/api/v1/cases": "cases",
    "/api/v1/taxonomy": "cases",
    "/api/v1/patrols": "patrols",
    "/api/v1/exports": "exports",
    "/api/v1/visits": "visits",
    "/api/v1/visit-kinds": "visits",
    "/api/v1/households": "visits",
    "/api/v1/household-tags": "visits",
    "/api/v1/day-plan": "visits",
    "/api/v1/": "api",
    "/api/": "api",
    "/open311/": "open311",
    "/ogc": "ogc",
    "/tiles/": "tiles",
}
#: ``<converter(args):name>`` in a Werkzeug rule.
RULE_ARG = re.compile(r"<(?:(?P<conv>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """The OpenAPI path of a Werkzeug rule and its path parameters."""
    params: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        conv, args, name = match.group("conv"), match.group("args"), match.group("name")
        schema: dict[str, Any] = {"type": "string"}
        if conv == "int":
            schema = {"type": "integer", "minimum": 0}
            limits = dict(a.split("=") for a in (args or "").replace(" ", "").split(",") if a)
            if "max" in limits:
                schema["maximum"] = int(limits["max"])
            if "min" in limits:
                schema["minimum"] = int(limits["min"])
        elif conv == "float":
            schema = {"type": "number"}
        elif conv == "any" and args:
            schema["enum"] = [a.strip().strip("'\"") for a in args.split(",")]
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return RULE_ARG.sub(replace, rule), params


def _tag(path: str) -> str:
    return next(tag for prefix, tag in TAGS.items() if path.startswith(prefix))


def build_document(app: Flask, server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of every API route registered on ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    components = Components()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIXES):
            continue
        path, path_params = openapi_path(rule.rule)
        view = app.view_functions[rule.endpoint]
        if is_catch_all(view):  # the 404s of unknown /ogc and /tiles paths
            continue
        doc = inspect.cleandoc(view.__doc__ or rule.endpoint)
        summary, _, description = doc.partition("\n\n")
        public = level_of(rule.endpoint, view) is Access.PUBLIC
        spec = contract_of(view)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            key = method.lower()
            operation: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{key}",
                "tags": [_tag(path)],
                "summary": " ".join(summary.split()),
            }
            if spec is not None:
                parts = operation_parts(
                    spec, components, public=public, path=path, path_params=path_params
                )
                operation["parameters"] = path_params + parts["parameters"]
                if "requestBody" in parts:
                    operation["requestBody"] = parts["requestBody"]
                operation["responses"] = parts["responses"]
            else:  # not under a contract (yet): its path parameters and the common errors
                operation["parameters"] = path_params
                responses = {"200": {"description": "OK"}}
                common = standard_errors(
                    None, public=public, has_path_params=bool(path_params), path=path
                )
                for code, reply in common.items():
                    if not path.startswith(("/api/", "/open311/")):
                        reply = replace(reply, body=None)  # OGC and tiles: their own bodies
                    responses.setdefault(str(code), render_reply(reply, components))
                operation["responses"] = responses
            if not public:
                operation["security"] = [{"bearer": []}, {"cookie": []}]
            if description:
                operation["description"] = description
            paths.setdefault(path, {})[key] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "gridmap HTTP APIs",
            "version": __version__,
            "description": (
                "Case intake and workflow (/api/v1/cases), patrols (/api/v1/patrols), "
                "exports, Open311 GeoReport v2 (/open311/v2), OGC API – Features (/ogc) and "
                "vector tiles (/tiles)."
            ),
        },
        "servers": [{"url": server_url}],
        "tags": sorted(({"name": tag} for tag in set(TAGS.values())), key=lambda t: t["name"]),
        "paths": paths,
        "components": {
            "schemas": {
                **dict(sorted(components.schemas.items())),
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "gridmap_session"},
            },
        },
    }

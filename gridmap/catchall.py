"""Catch-all routes of the GIS prefixes (``/ogc``, ``/tiles``): without them an unknown
path there falls to the dashboard's own catch-all and answers 200 with its HTML page.

A catch-all takes every method, so it also answers a known path asked with the wrong
method; :func:`other_methods` tells the two apart (405 with ``Allow``, else 404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, request
from werkzeug.exceptions import HTTPException

F = TypeVar("F", bound=Callable)
_MARK = "gridmap_catch_all"

#: Methods a catch-all route takes (HEAD and OPTIONS come with GET and from Flask).
OTHER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE")


def other_methods() -> list[str]:
    """The methods another route takes at this request's path (empty: no such path)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed: list[str] = []
    for method in OTHER_METHODS:
        try:
            rule, _ = adapter.match(method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.endpoint != request.endpoint:
            allowed.append(method)
    if "GET" in allowed:
        allowed[1:1] = ["HEAD"]
    return allowed


def catch_all(view: F) -> F:
    """Mark ``view`` as a catch-all: no operation of the API, so not in its document."""
    setattr(view, _MARK, True)
    return view


def is_catch_all(view: Callable | None) -> bool:
    return bool(getattr(view, _MARK, False))

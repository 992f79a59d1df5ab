"""What every API handler needs: the app's database engine and taxonomy, the request body
read within limits, and JSON responses that keep Chinese text readable."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from sqlalchemy import Engine

from gridmap.cases.errors import CaseValidationError, Problem
from gridmap.cases.taxonomy import Taxonomy, get_taxonomy
from gridmap.settings import get_settings
from gridmap.web.database import app_engine


def engine() -> Engine:
    """The pooled engine of the app's database (the one the pages use)."""
    return app_engine()


def taxonomy() -> Taxonomy:
    """The configured case taxonomy."""
    return get_taxonomy()


def limit_body() -> None:
    """Refuse request bodies over the api_max_body_bytes setting (413)."""
    request.max_content_length = get_settings().api_max_body_bytes


def json_body() -> Any:
    """The request body parsed as JSON, or a CaseValidationError saying why not."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise CaseValidationError([Problem("body", "is empty; send a JSON object")])
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise CaseValidationError([Problem("body", f"is not valid UTF-8 JSON{where}")]) from exc


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    """A JSON response with UTF-8 text left unescaped."""
    return Response(
        json.dumps(payload, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
        headers=headers,
    )

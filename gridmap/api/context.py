"""What every API handler needs: the app's database engine and taxonomy, the request body
read within limits, and JSON responses that keep Chinese text readable."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from flask import Response, request
from sqlalchemy import Engine
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from gridmap.access import current_user
from gridmap.cases.intake import NewCase, submit_case
from gridmap.cases.taxonomy import Taxonomy, get_taxonomy
from gridmap.db.app import app_engine
from gridmap.errors import InvalidInput, Problem
from gridmap.settings import get_settings


def engine() -> Engine:
    """The pooled engine of the app's database (the one the pages use)."""
    return app_engine()


def taxonomy() -> Taxonomy:
    """The configured case taxonomy."""
    return get_taxonomy()


def limit_body() -> None:
    """Refuse request bodies over the api_max_body_bytes setting (413)."""
    request.max_content_length = get_settings().api_max_body_bytes


JSON_TYPES = ("application/json",)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def body_bytes() -> bytes:
    """The raw request body, refused with 413 when it is over api_max_body_bytes (also a
    chunked body, which carries no Content-Length)."""
    limit = get_settings().api_max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    raw = request.get_data(cache=True)
    if len(raw) > limit or (request.content_length is None and len(raw) >= limit):
        raise RequestEntityTooLarge()  # a chunked body is cut at the limit: it was over
    return raw


def json_body() -> Any:
    """The request body parsed as JSON, or an error saying why not: 415 unless it is sent
    as application/json, 413 over the size limit, 400 for JSON that is malformed or that
    no column could store (a lone surrogate, NaN/Infinity, a number of thousands of
    digits, nesting too deep to parse)."""
    mimetype = request.mimetype or ""
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"Send the body as JSON with Content-Type: application/json "
            f"(got {mimetype[:60] or 'no Content-Type'!r})."
        )
    raw = body_bytes()
    if not raw.strip():
        raise InvalidInput([Problem("body", "is empty; send a JSON object")])
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise InvalidInput([Problem("body", f"is not valid UTF-8 JSON{where}")]) from exc
    except RecursionError as exc:
        raise InvalidInput([Problem("body", "is nested too deeply")]) from exc
    except ValueError as exc:  # NaN/Infinity, or an integer of more than 4300 digits
        raise InvalidInput([Problem("body", f"is not valid JSON: {exc}"[:200])]) from exc
    if b"\\u" in raw:  # escapes may spell a lone surrogate, which is no text
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                [Problem("body", "holds a lone UTF-16 surrogate (\\ud800-\\udfff): no text")]
            ) from exc
    return value


def _undecodable(value: str) -> bool:
    """Whether text holds bytes that were not UTF-8 (escaped surrogates, or U+FFFD)."""
    return "\ufffd" in value or any("\udc80" <= ch <= "\udcff" for ch in value)


def form_body() -> dict[str, str]:
    """Form fields (url-encoded or multipart) as a dict of the last value of each (blank
    ones left out), refused when a value is not valid UTF-8 (Werkzeug decodes those to
    U+FFFD)."""
    raw = body_bytes()
    if request.mimetype == "application/x-www-form-urlencoded" and raw:
        # Werkzeug keeps undecodable bytes %-quoted: read the body again, strictly
        pairs = parse_qsl(
            raw.decode("utf-8", "surrogateescape"), keep_blank_values=True, errors="surrogateescape"
        )
        fields = dict(pairs)
    else:
        fields = {key: request.form.getlist(key)[-1] for key in request.form}
    fields = {key: value for key, value in fields.items() if value.strip()}  # blank: absent
    bad = [key for key, value in fields.items() if _undecodable(key) or _undecodable(value)]
    if bad:
        raise InvalidInput(
            [
                Problem(key.encode("utf-8", "replace").decode()[:40], "is not valid UTF-8")
                for key in bad
            ]
        )
    return fields


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    """A JSON response with UTF-8 text left unescaped."""
    return Response(
        json.dumps(payload, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
        headers=headers,
    )


def submit_as_caller(case: NewCase, key: str | None, *, stored_key: str | None = None):
    """Submit ``case`` for the request's user; (case id, created). ``key`` is the client's
    Idempotency-Key (None: a repeat of the same report within the window answers the case
    it repeats); ``stored_key`` the key to store instead (Open311's server-made token)."""
    user = current_user()
    return submit_case(
        engine(),
        case,
        idempotency_key=stored_key or key,
        submitted_by=user.id if user else None,
        natural_key=key is None,
    )

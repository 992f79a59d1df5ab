"""One schema source for validating API requests and documenting them: the ``@contract``
decorator.

A route declares what it accepts and answers with pydantic models, under its route
decorator (like ``@allow``)::

    class ListQuery(QueryModel):
        status: CommaList[Literal["reported", "closed"]] | None = None
        limit: Annotated[int, Field(ge=1, le=500)] = 50

    @blueprint.get("/cases")
    @contract(query=ListQuery, responses={200: Reply("One page of cases.", CaseList)})
    def list_cases(query: ListQuery): ...

(``@allow`` may go above or below it.) Worked examples: :mod:`gridmap.api.cases` with
:mod:`gridmap.api.case_schemas`, and :mod:`gridmap.api.open311` with
:mod:`gridmap.api.open311_schemas`.

- ``query``: a :class:`QueryModel` of the query parameters (unknown ones are refused;
  ``CommaList[...]`` fields read ``a,b,c`` and are documented as ``style: form,
  explode: false`` arrays; blank values count as absent). The view gets the instance as
  ``query=``. A function returning the model may stand in for it (a model built from
  settings, e.g. the largest page).
- ``body``: a :class:`BodyModel` of the JSON body (read by :func:`gridmap.api.context.json_body`,
  which refuses other media types (415), over-long bodies (413) and JSON that cannot be
  stored (lone surrogates, 5,000-digit numbers, deep nesting)). The view gets ``body=``.
  With ``form=True`` the body may also be ``application/x-www-form-urlencoded`` or
  ``multipart/form-data`` (Open311), decoded as strict UTF-8.
- ``headers``: a :class:`HeaderModel` of request headers (aliases are the header names);
  the view gets ``headers=``.
- ``responses``: status -> :class:`Reply` (a model, a type, a JSON schema dict or None, and
  a description). The errors every route can give are added by :func:`standard_errors`
  (400 when something is validated, 401/403 unless public, 404 with path parameters,
  413/415 with a body, 503); a route's own entries win.

Before the view runs, every declared part is validated; all problems together become one
400 in the door's error format (``{"error": {"message", "problems": [{"field",
"message"}]}}`` under ``/api/``, ``[{"code", "description"}]`` under ``/open311/``).
:mod:`gridmap.openapi.document` reads the same models (:func:`contract_of`,
:func:`operation_parts`) to write each operation's parameters, requestBody and responses,
so the document and the validation cannot disagree.

Problems are raised as :class:`~gridmap.errors.InvalidInput`, which
:func:`gridmap.api.errors.handle_api_error` formats (a blueprint's own error handler should
hand it on). Messages name the bound: "must be between 1 and 4 (got 7)", "is too long (201
characters; at most 200)", "unknown category 'x' (known: …)"; a regular expression's
message is registered in :data:`PATTERN_MESSAGES`.

Every operation under a contract is fuzzed by tests/gridmap/api/test_contract_fuzz.py
(schemathesis over HTTP, as an admin, a grid lead and an intake client): add the tag of
new operations to its ``FUZZED_TAGS`` (``GRIDMAP_FUZZ_TAGS=patrols,ogc`` tries others).

Domain rules that need the database or the taxonomy at run time stay in the services
(e.g. ``validate_case``); a value set that is known at run time (taxonomy slugs) is a
:class:`Choice`, which validates against, and documents, the same live list.

The document is OpenAPI 3.0.3 (the OGC API's ``oas30`` conformance class asks for 3.0):
pydantic's JSON Schema 2020-12 is rewritten by :func:`openapi30` (``anyOf`` with null ->
``nullable``, ``const`` -> ``enum``, ``$defs`` -> ``components/schemas``).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, core_schema

from gridmap.errors import InvalidInput, Problem, type_name

_ATTRIBUTE = "gridmap_contract"
#: Messages of regular expressions the models use (pydantic's would quote the regex);
#: schema modules add theirs.
PATTERN_MESSAGES: dict[str, str] = {}
F = TypeVar("F", bound=Callable)
T = TypeVar("T")
REF_TEMPLATE = "#/components/schemas/{model}"


# -- models --------------------------------------------------------------------------------


class QueryModel(BaseModel):
    """Base of query-parameter models: unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BodyModel(BaseModel):
    """Base of JSON body models: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HeaderModel(BaseModel):
    """Base of request-header models (field aliases are the header names)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ResponseModel(BaseModel):
    """Base of documented response bodies (other fields may be added later)."""

    model_config = ConfigDict(extra="allow")


class ProblemOut(ResponseModel):
    field: str
    message: str
    row: int | None = None


class ErrorDetail(ResponseModel):
    message: str
    hint: str | None = None
    problems: list[ProblemOut] | None = None


class ErrorOut(ResponseModel):
    """The JSON API's error body."""

    error: ErrorDetail


class Open311Error(ResponseModel):
    code: int
    description: str


OPEN311_ERRORS = list[Open311Error]


class OgcExceptionOut(ResponseModel):
    """The OGC API's exception body (its own errors; sign-in refusals are ErrorOut)."""

    code: str
    description: str


class _CommaSplit:
    """Marks a list field read from one ``a,b,c`` query value."""


CommaList = Annotated[list[T], _CommaSplit()]


@dataclass(frozen=True)
class Choice:
    """A string from a list known at run time (e.g. taxonomy slugs): ``values`` returns the
    list; validation and the document's ``enum`` both read it."""

    name: str
    values: Callable[[], Collection[str]]
    #: Other spellings accepted as well (documented too), e.g. a category's names.
    aliases: Callable[[], Collection[str]] | None = None
    #: Whether a value is accepted (default: it is one of values or aliases).
    accepts: Callable[[str], bool] | None = None

    def documented(self) -> list[str]:
        """The values the document lists."""
        out = list(self.values())
        if self.aliases is not None:
            out += [a for a in self.aliases() if a not in out]
        return out

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        def check(value: str) -> str:
            if self.accepts is not None:
                ok = self.accepts(value)
            else:
                ok = value in self.values() or (
                    self.aliases is not None and value in self.aliases()
                )
            if not ok:
                known = list(self.values())
                raise PydanticCustomError(
                    "unknown_choice",
                    "unknown {name} {value} (known: {known})",
                    {"name": self.name, "value": repr(value[:60]), "known": ", ".join(known)},
                )
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        out = handler(schema)
        out["enum"] = self.documented()
        return out

    def __hash__(self) -> int:
        return hash(self.name)


@dataclass(frozen=True)
class Reply:
    """A documented response: its body (model, type, schema dict or None) and meaning."""

    description: str
    body: Any = None
    media: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: Other media types with the same meaning (e.g. Open311's text/xml), schema: string.
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contract:
    """What one route accepts and answers."""

    query: type[QueryModel] | Callable[[], type[QueryModel]] | None = None
    body: type[BaseModel] | None = None
    form: bool = False
    headers: type[HeaderModel] | None = None
    responses: dict[int, Reply] = field(default_factory=dict)
    #: An empty body is the model's defaults (e.g. ending a shift now).
    body_optional: bool = False


def contract(
    *,
    query: type[QueryModel] | Callable[[], type[QueryModel]] | None = None,
    body: type[BaseModel] | None = None,
    form: bool = False,
    headers: type[HeaderModel] | None = None,
    responses: dict[int, Reply] | None = None,
    body_optional: bool = False,
) -> Callable[[F], F]:
    """Declare and enforce a route's request and responses (see the module docstring)."""
    spec = Contract(query, body, form, headers, dict(responses or {}), body_optional)

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def run(*args: Any, **kwargs: Any) -> Any:
            kwargs.update(validate_request(spec))
            return view(*args, **kwargs)

        setattr(run, _ATTRIBUTE, spec)
        return typing.cast(F, run)

    return wrap


def resolve(model: Any) -> Any:
    """A model, or the model a factory returns (for models built from settings)."""
    if model is None or isinstance(model, type):
        return model
    return model()


def contract_of(view: Callable | None) -> Contract | None:
    """The contract a view declared, if any."""
    return getattr(view, _ATTRIBUTE, None) if view is not None else None


# -- validation ----------------------------------------------------------------------------


@functools.cache
def _comma_fields(model: type[BaseModel]) -> frozenset[str]:
    out = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        candidates = [annotation, *get_args(annotation)]
        if any(isinstance(m, _CommaSplit) for m in info.metadata) or any(
            get_origin(c) is Annotated and any(isinstance(m, _CommaSplit) for m in get_args(c))
            for c in candidates
        ):
            out.add(info.alias or name)
    return frozenset(out)


def query_data(model: type[QueryModel], args: Any) -> dict[str, Any]:
    """Query parameters as the model reads them (lists split at commas, blanks dropped)."""
    commas = _comma_fields(model)
    data: dict[str, Any] = {}
    for key in args:
        values = [v for v in args.getlist(key)]
        if key in commas:
            items = [p.strip() for v in values for p in v.split(",") if p.strip()]
            if items:
                data[key] = items
        elif values and values[-1].strip() != "":
            data[key] = values[-1].strip()
    return data


def _known(model: type[BaseModel]) -> str:
    return ", ".join(info.alias or name for name, info in model.model_fields.items())


def _nested(model: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The model at ``loc`` inside ``model`` (a nested model field, list items skipped)."""
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        if info is None:
            return model
        todo, found = [info.annotation], None
        while todo and found is None:
            annotation = todo.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                found = annotation
            else:
                todo += list(get_args(annotation))
        if found is None:
            return model
        model = found
    return model


def _bounds(model: type[BaseModel], loc: tuple) -> tuple[Any, Any]:
    """The ge/le bounds declared on the field at ``loc`` (or on its list items)."""
    info = model.model_fields.get(str(loc[0])) if loc else None
    low = high = None
    if info is None:
        return low, high
    stack: list[Any] = list(info.metadata)
    todo = [info.annotation]
    while todo:
        annotation = todo.pop()
        for arg in get_args(annotation):
            if get_origin(arg) is Annotated:
                stack += list(get_args(arg)[1:])
                todo.append(get_args(arg)[0])
            else:
                todo.append(arg)
    while stack:
        meta = stack.pop(0)
        if isinstance(meta, FieldInfo):
            stack += list(meta.metadata)
            continue
        if getattr(meta, "ge", None) is not None:
            low = meta.ge
        if getattr(meta, "le", None) is not None:
            high = meta.le
    return low, high


def _list_limit(model: type[BaseModel], loc: tuple, name: str) -> Any:
    info = model.model_fields.get(str(loc[0])) if loc else None
    stack: list[Any] = list(info.metadata) if info else []
    todo = [info.annotation] if info else []
    while todo:
        for arg in get_args(todo.pop()):
            if get_origin(arg) is Annotated:
                stack += list(get_args(arg)[1:])
            todo.append(arg)
    for meta in stack:
        found = getattr(meta, name, None)
        if found is None and isinstance(meta, FieldInfo):
            found = next((getattr(m, name) for m in meta.metadata if hasattr(m, name)), None)
        if found is not None:
            return found
    return None


def _got(value: Any) -> str:
    if isinstance(value, str):
        return f" (got {value[:40]!r})"
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = repr(value)
        return f" (got {text if len(text) <= 40 else text[:20] + '…'})"
    return f", not {type_name(value)}"


def problem_message(error: dict[str, Any], model: type[BaseModel], kind: str) -> str:
    """One pydantic error in gridmap's words."""
    kind_of = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    low, high = _bounds(model, error["loc"])
    span = f" {low}–{high}" if low is not None and high is not None else ""
    if kind_of == "missing":
        return "is required"
    if kind_of == "extra_forbidden":
        return f"is not a known {kind} (known: {_known(_nested(model, error['loc'][:-1]))})"
    if kind_of == "string_too_long":
        size = len(value) if isinstance(value, str) else "?"
        return f"is too long ({size} characters; at most {ctx.get('max_length')})"
    if kind_of == "string_too_short":
        return "is required"
    if kind_of in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        if span:
            return f"must be between {low} and {high}" + _got(value)
        return error["msg"].replace("Input should be", "must be") + _got(value)
    if kind_of.startswith("int_"):
        return f"must be an integer{span}" + _got(value)
    if kind_of.startswith("float_") or kind_of == "finite_number":
        if kind_of == "finite_number":
            return f"must be a finite number{span}" + _got(value)
        return "must be a number" + _got(value)
    if kind_of.startswith(("datetime_", "timezone_")):
        got = _got(value) if isinstance(value, str) else f", not {type_name(value)}"
        return "must be an ISO 8601 date-time" + got
    if kind_of.startswith("bool_"):
        return "must be true or false" + _got(value)
    if kind_of == "literal_error":
        return f"must be one of {ctx.get('expected', '')}".replace("'", "") + _got(value)
    if kind_of == "string_pattern_mismatch":
        known = PATTERN_MESSAGES.get(str(ctx.get("pattern")))
        return known or "has characters that are not allowed" + _got(value)
    if kind_of == "string_type":
        return f"must be a string, not {type_name(value)}"
    if kind_of in ("too_short", "too_long"):
        low, high = ctx.get("min_length"), ctx.get("max_length")
        if kind_of == "too_short":
            high = _list_limit(model, error["loc"], "max_length")
        else:
            low = _list_limit(model, error["loc"], "min_length")
        count = f"exactly {low}" if low == high else f"{low or 0}–{high}"
        return f"must have {count} items (got {ctx.get('actual_length')})"
    if kind_of in ("list_type", "dict_type", "model_type", "model_attributes_type"):
        return error["msg"].replace("Input should be a valid", "must be a") + _got(value)
    if kind_of == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"]


def _field_name(loc: tuple, kind: str) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            if kind == "parameter":
                continue  # the items of one comma list: name the parameter
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]"]
        else:
            parts.append(str(part)[:40])
    return ".".join(parts) or kind


def problems_of(exc: ValidationError, model: type[BaseModel], kind: str) -> list[Problem]:
    """The problems of a pydantic ValidationError, one per field (first error each)."""
    out: list[Problem] = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False):
        name = _field_name(error["loc"], kind)
        if name in seen:
            continue
        seen.add(name)
        out.append(Problem(name, problem_message(error, model, kind)))
    return out


def check(model: type[BaseModel], data: Any, kind: str = "field") -> tuple[Any, list[Problem]]:
    """``model`` validated from ``data``, or None and the problems."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems_of(exc, model, kind)


def validate_request(spec: Contract) -> dict[str, Any]:
    """The validated parts of the current request, or an InvalidInput naming every
    problem (the door's error handler formats it)."""
    from flask import request

    from gridmap.api.context import form_body, json_body

    found: dict[str, Any] = {}
    problems: list[Problem] = []
    if spec.headers is not None:
        values = {
            (info.alias or name): request.headers.get(info.alias or name)
            for name, info in spec.headers.model_fields.items()
            if request.headers.get(info.alias or name) is not None
        }
        found["headers"], more = check(spec.headers, values, "header")
        problems += more
    if spec.query is not None:
        query = resolve(spec.query)
        found["query"], more = check(query, query_data(query, request.args), "parameter")
        problems += more
    if spec.body is not None and spec.body_optional and not request.get_data(cache=True):
        found["body"] = spec.body()
    elif spec.body is not None:
        data = form_body() if spec.form and request.mimetype in FORM_TYPES else json_body()
        if not isinstance(data, dict):
            problems.append(Problem("body", "must be a JSON object"))
        else:
            found["body"], more = check(spec.body, data, "field")
            problems += more
    if problems:
        raise InvalidInput(problems)
    return found


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# -- documentation ---------------------------------------------------------------------------


def openapi30(schema: Any) -> Any:
    """A JSON Schema 2020-12 fragment (pydantic's) as an OpenAPI 3.0 Schema Object."""
    if isinstance(schema, list):
        return [openapi30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: openapi30(v) for k, v in schema.items() if k not in ("$defs", "examples")}
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and any(o == {"type": "null"} for o in options):
            rest = [o for o in options if o != {"type": "null"}]
            del out[key]
            if len(rest) == 1 and "$ref" not in rest[0]:
                out = {**rest[0], **out}
            elif len(rest) == 1:
                out["allOf"] = rest
            else:
                out[key] = rest
            out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for key, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(key), int | float) and not isinstance(out.get(key), bool):
            out[flag] = out[key]
            out[key] = True
    if "default" in out and out["default"] is None and not out.get("nullable"):
        del out["default"]
    if isinstance(out.get("type"), list):  # ["string", "null"]
        kinds = [t for t in out.pop("type") if t != "null"]
        out["nullable"] = True
        if len(kinds) == 1:
            out["type"] = kinds[0]
    return out


class Components:
    """The ``components/schemas`` being collected while a document is written."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def schema(self, body: Any) -> dict[str, Any]:
        """The OpenAPI schema of a response/request body (model, type or dict)."""
        if isinstance(body, dict):
            return body
        adapter = TypeAdapter(body)
        raw = adapter.json_schema(ref_template=REF_TEMPLATE, mode="serialization")
        for name, sub in raw.pop("$defs", {}).items():
            self.schemas[name] = openapi30(sub)
        if isinstance(body, type) and issubclass(body, BaseModel) and "$ref" not in raw:
            name = body.__name__
            self.schemas[name] = openapi30(raw)
            return {"$ref": REF_TEMPLATE.format(model=name)}
        return openapi30(raw)

    def input_schema(self, model: type[BaseModel]) -> dict[str, Any]:
        """A request model's schema (validation mode), hoisted into components."""
        raw = model.model_json_schema(ref_template=REF_TEMPLATE, mode="validation")
        for name, sub in raw.pop("$defs", {}).items():
            self.schemas[name] = openapi30(sub)
        self.schemas[model.__name__] = openapi30(raw)
        return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    raw = model.model_json_schema(ref_template=REF_TEMPLATE, mode="validation")
    defs = raw.get("$defs", {})
    required = set(raw.get("required", []))
    commas = _comma_fields(model)
    out = []
    for name, prop in raw.get("properties", {}).items():
        schema = openapi30(prop)
        if "$ref" in schema:  # inline enums and the like: parameters have no components
            schema = openapi30(defs[schema["$ref"].rsplit("/", 1)[1]])
        schema.pop("title", None)
        schema.pop("nullable", None)  # an absent parameter is the null
        if schema.get("default", 0) is None:
            del schema["default"]
        description = schema.pop("description", None) or ""
        param: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": name in required,
            "schema": schema,
        }
        if description:
            param["description"] = description
        if name in commas:
            param["style"] = "form"
            param["explode"] = False
        out.append(param)
    return out


def standard_errors(spec: Contract | None, *, public: bool, has_path_params: bool, path: str):
    """The error responses every route of its kind can give."""
    open311 = path.startswith("/open311/")
    error_body: Any = OPEN311_ERRORS if open311 else ErrorOut
    alternatives = ("text/xml",) if open311 and path.endswith("{fmt}") else ()
    ogc = path.startswith("/ogc")

    def reply(text: str, own: bool = True) -> Reply:
        body = OgcExceptionOut if ogc and own else error_body
        return Reply(text, body, alternatives=alternatives)

    out: dict[int, Reply] = {}
    validated = spec is not None and (spec.query or spec.body or spec.headers)
    if validated or has_path_params:
        out[400] = reply("The request is malformed; the problems name each field.")
    if not public:
        out[401] = reply("Sign in first (session cookie or Authorization: Bearer).", own=False)
        out[403] = reply("The caller's role may not use this route.", own=False)
    if has_path_params:
        out[404] = reply("Nothing has this id.")
    if spec is not None and spec.body is not None:
        out[408] = reply("The body stalled (over 60 s between two pieces); send it again.")
        out[413] = reply("The body is larger than the api_max_body_bytes setting.")
        out[415] = reply("The body is not of a media type this route reads.")
    out[414] = Reply(  # answered by gunicorn before the app sees the request
        "The request line (path and query) is longer than the HTTP server takes (4094 bytes).",
        {"type": "string"},
        media="text/plain",
        alternatives=("text/html",),
    )
    out[503] = reply("The database is unavailable; try again shortly.")
    return out


def operation_parts(
    spec: Contract, components: Components, *, public: bool, path: str, path_params: list
) -> dict[str, Any]:
    """parameters, requestBody and responses of an operation from its contract."""
    parts: dict[str, Any] = {"parameters": []}
    if spec.headers is not None:
        parts["parameters"] += _parameters(spec.headers, "header")
    if spec.query is not None:
        parts["parameters"] += _parameters(resolve(spec.query), "query")
    if spec.body is not None:
        schema = components.input_schema(spec.body)
        content = {"application/json": {"schema": schema}}
        if spec.form:
            content["application/x-www-form-urlencoded"] = {"schema": schema}
        parts["requestBody"] = {"required": not spec.body_optional, "content": content}
    replies = standard_errors(
        spec, public=public, has_path_params=bool(path_params), path=path
    ) | dict(spec.responses)
    parts["responses"] = {
        str(code): render_reply(r, components) for code, r in sorted(replies.items())
    }
    return parts


def render_reply(reply: Reply, components: Components) -> dict[str, Any]:
    """A Reply as an OpenAPI Response Object."""
    out: dict[str, Any] = {"description": reply.description}
    if reply.body is not None:
        content = {reply.media: {"schema": components.schema(reply.body)}}
        for media in reply.alternatives:
            content[media] = {"schema": {"type": "string"}}
        out["content"] = content
    if reply.headers:
        out["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in reply.headers.items()
        }
    return out

"""The OpenAPI document of the HTTP APIs at ``/api/openapi.json`` and its offline HTML
rendering at ``/api/docs`` (Swagger UI from the swagger-ui-bundle package, no CDN)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from gridmap.access.policy import Access, allow
from gridmap.openapi.document import build_document

blueprint = Blueprint("openapi", __name__)

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gridmap API</title>
<link rel="stylesheet" href="{static}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui", deepLinking: true}});
</script>
</body>
</html>"""


@blueprint.get("/api/openapi.json")
@allow(Access.INTAKE)  # every role that may call an API may read its contract
def document() -> Response:
    """The OpenAPI 3.0 document of every HTTP API of this server."""
    response = jsonify(build_document(current_app, request.url_root))
    response.mimetype = "application/vnd.oai.openapi+json"
    return response


@blueprint.get("/api/docs")
@allow(Access.INTAKE)  # every role that may call an API may read its contract
def docs() -> Response:
    """The OpenAPI document rendered by Swagger UI (served locally)."""
    page = DOCS_PAGE.format(static="/api/docs/static", spec="/api/openapi.json")
    return Response(page, mimetype="text/html")


@blueprint.get("/api/docs/static/<path:filename>")
@allow(Access.PUBLIC)  # Swagger UI's own scripts and styles
def docs_static(filename: str) -> Response:
    """Swagger UI's scripts and styles from the swagger-ui-bundle package."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)

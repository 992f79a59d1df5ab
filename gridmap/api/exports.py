"""``/api/v1/exports``: background exports of map layers (files and print maps).

- ``POST /api/v1/exports`` with the options of :class:`gridmap.io.export.ExportRequest`
  (``layers``, ``format``, ``bbox``, ``filters``, ``time_from``/``time_to``, ``paper``,
  ``orientation``, ``title``, ``language``, ``csv_geometry``, ``area``: ids of districts,
  streets, communities, compounds or grids) → 202 with the job and links (400 naming
  unknown area ids).
- ``GET /api/v1/exports`` → the signed-in user's latest jobs.
- ``GET /api/v1/exports/<id>`` → status and progress (0–1); ``links.download`` when done.
- ``GET /api/v1/exports/<id>/download`` → the file.

Every route needs a signed-in person (not an API token); a job is visible only to who asked
for it (and admins). The export reads as that user, so their access rules apply.
"""

from __future__ import annotations

from flask import Blueprint, send_file, url_for

from gridmap.access import current_user
from gridmap.access.policy import Access, allow
from gridmap.api import export_schemas as s
from gridmap.api.context import engine, json_response, limit_body
from gridmap.api.contract import ErrorOut, Reply, contract
from gridmap.api.errors import handle_api_error
from gridmap.io import jobs
from gridmap.io.export import MEDIA_TYPES, ExportRequest, resolve_area

blueprint = Blueprint("exports_api", __name__, url_prefix="/api/v1/exports")
blueprint.before_request(limit_body)
blueprint.register_error_handler(Exception, handle_api_error)


def _payload(status: jobs.JobStatus) -> dict:
    links = {"self": url_for("exports_api.get_export", job_id=status.id)}
    if status.ready:
        links["download"] = url_for("exports_api.download_export", job_id=status.id)
    return {**status.as_json(), "links": links}


@blueprint.post("")
@allow(Access.SIGNED_IN)
@contract(
    body=s.ExportIn,
    responses={
        202: Reply(
            "Queued: the job, with links to poll it.",
            s.ExportJobOut,
            headers={"Location": "The job's URL."},
        )
    },
)
def create_export(body: s.ExportIn):
    """Queue an export for the signed-in user."""
    request = ExportRequest.from_json(body.model_dump(exclude_none=True))
    resolve_area(engine(), request.area)  # unknown area ids: a 400 now, not a failed job
    job_id = jobs.submit(engine(), request, current_user())
    status = jobs.job_status(engine(), job_id, current_user())
    payload = _payload(status)
    return json_response(payload, 202, headers={"Location": payload["links"]["self"]})


@blueprint.get("")
@allow(Access.SIGNED_IN)
@contract(responses={200: Reply("The latest jobs, newest first.", s.ExportJobList)})
def list_exports():
    """The signed-in user's latest exports."""
    return json_response(
        {"exports": [_payload(s) for s in jobs.recent_jobs(engine(), current_user())]}
    )


@blueprint.get("/<job_id>")
@allow(Access.SIGNED_IN)
@contract(responses={200: Reply("The job's status and progress.", s.ExportJobOut)})
def get_export(job_id: str):
    """One export's status and progress."""
    return json_response(_payload(jobs.job_status(engine(), job_id, current_user())))


@blueprint.get("/<job_id>/download")
@allow(Access.SIGNED_IN)
@contract(
    responses={
        200: Reply(
            "The file (its media type names the format).",
            {"type": "string", "format": "binary"},
            media="application/octet-stream",
            alternatives=tuple(sorted(set(MEDIA_TYPES.values()))),
        ),
        400: Reply("The export is not ready yet.", ErrorOut),
    }
)
def download_export(job_id: str):
    """A finished export's file."""
    path, name, media_type = jobs.download(engine(), job_id, current_user())
    return send_file(path, mimetype=media_type, as_attachment=True, download_name=name)

"""The case page's case file (电子卷宗) form: a document added from the browser.

The file comes in a multipart form with its title; the rules, the type check and the audit
are the domain's (``server.docket.documents``), as for the API. A refusal shows the case
page again with the reason, at the case file.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_request import FileField

from server import access
from server.api.case_paths import case_for_request
from server.docket import documents
from server.errors import AppError, BadRequest, NotFound
from server.pages.case_pages import case_url, render_case_error
from server.web.auth import require_user
from server.web.body import body_cap
from server.web.http import see_other
from server.web.keys import CTX

FORM_SLACK = 64 * 1024  # the form's other fields and the multipart boundaries


@body_cap(documents.MAX_BYTES + FORM_SLACK)
async def add_document(request: web.Request) -> web.StreamResponse:
    case = await case_for_request(request)
    if not access.can_add_document(require_user(request), case):
        raise NotFound("case not found", code="case_not_found")
    form = await request.post()
    title = form.get("title")
    values = {"title": title if isinstance(title, str) else ""}
    upload = form.get("file")
    try:
        if not isinstance(upload, FileField):
            raise BadRequest("choose a file to upload", code="empty_body")
        data = upload.file.read()
        await documents.add_document(
            request[CTX], case, data, filename=upload.filename or "", title=values["title"]
        )
    except AppError as exc:
        return await render_case_error(request, exc, values)
    return see_other(case_url(request, "#documents"))

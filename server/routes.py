"""The one route table: every API operation, page, WebSocket and file route, in order.

Feature modules define handlers (API operations declare their path, models and summary
beside the handler through ``server.api.registry.ApiRouter``, which is what the OpenAPI
document is made from); only this module adds anything to the router. Order matters only
where two patterns could match one path: a fixed segment (``/cases/due-soon``) comes before
a variable one.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from server.api import (
    agreement_templates,
    agreement_verify,
    agreements,
    auth_api,
    cases,
    desk,
    documents,
    guests,
    intake,
    openapi,
    parties,
    probe,
    recordings,
    reports,
    scheduling,
    sessions,
    users,
)
from server.api.registry import API_PREFIX, OPERATIONS, ApiRouter, Operation
from server.api.registry import ApiHandler as Handler
from server.pages import (
    agreement_pages,
    audit_pages,
    auth_pages,
    case_actions,
    case_pages,
    desk_pages,
    docket_pages,
    document_pages,
    guest_pages,
    intake_pages,
    recording_pages,
    report_pages,
    schedule_pages,
    session_pages,
)
from server.web import desk_socket, health
from signaling import ws


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    name: str


def get(path: str, handler: Handler, name: str) -> Route:
    return Route("GET", path, handler, name)


def post(path: str, handler: Handler, name: str) -> Route:
    return Route("POST", path, handler, name)


CASE = r"/cases/{case_id:\d+}"
SESSION = r"/sessions/{session_id:\d+}"
BOOKING = r"/schedule/bookings/{booking_id:\d+}"

# The JSON API under /api/v1, one router per area.
API: tuple[ApiRouter, ...] = (
    openapi.api,
    auth_api.api,
    users.api,
    reports.api,
    cases.api,
    parties.api,
    documents.api,
    desk.api,
    intake.api,
    scheduling.api,
    sessions.api,
    guests.api,
    probe.api,
    recordings.api,
    agreements.api,
    agreement_verify.api,
    agreement_templates.api,
)

PAGES: tuple[Route, ...] = (
    get("/healthz", health.healthz, "healthz"),
    # accounts
    get("/", auth_pages.home, "home"),
    get("/login", auth_pages.login_form, "login"),
    post("/login", auth_pages.login_submit, "login_submit"),
    post("/logout", auth_pages.logout, "logout"),
    # reports
    get("/reports", report_pages.reports_page, "reports"),
    get("/reports.csv", report_pages.reports_csv, "reports_csv"),
    # online reception
    get("/intake", intake_pages.intake_form, "intake"),
    post("/intake", intake_pages.intake_submit, "intake_submit"),
    get("/intake/track", intake_pages.intake_track, "intake_track"),
    get("/intake/done/{code}", intake_pages.intake_done, "intake_done"),
    # the docket
    get("/cases", docket_pages.case_list, "cases"),
    get("/cases/due-soon", docket_pages.due_soon_list, "cases_due_soon"),
    get("/cases/new", docket_pages.new_case_form, "case_new"),
    post("/cases/new", docket_pages.new_case_submit, "case_new_submit"),
    get(CASE, case_pages.case_page, "case"),
    post(CASE + "/move", case_actions.move, "case_move"),
    post(CASE + "/consent", case_actions.consent, "case_consent"),
    post(CASE + "/assign", case_actions.assign, "case_assign"),
    post(CASE + "/parties", case_actions.add_party, "case_party_add"),
    post(CASE + r"/parties/{party_id:\d+}", case_actions.edit_party, "case_party_edit"),
    post(CASE + "/edit", case_actions.edit_case, "case_edit"),
    post(CASE + "/documents", document_pages.add_document, "case_document_add"),
    # scheduling
    get("/schedule", schedule_pages.dashboard, "schedule"),
    get("/schedule/availability", schedule_pages.availability_page, "schedule_grid"),
    post("/schedule/book", schedule_pages.book_submit, "schedule_book"),
    get(BOOKING, schedule_pages.booking_page, "schedule_booking"),
    post(BOOKING + "/move", schedule_pages.move_submit, "schedule_move"),
    post(BOOKING + "/cancel", schedule_pages.cancel_submit, "schedule_cancel"),
    get("/schedule/my", schedule_pages.host_page, "schedule_host"),
    get("/schedule/center", schedule_pages.center_page, "schedule_center"),
    get("/schedule/feed", schedule_pages.feed_page, "schedule_feed"),
    post("/schedule/feed", schedule_pages.feed_new, "schedule_feed_new"),
    post("/schedule/feed/revoke", schedule_pages.feed_revoke, "schedule_feed_revoke"),
    get("/calendar/{token:[A-Za-z0-9_-]+}.ics", schedule_pages.calendar_feed, "calendar_feed"),
    # live sessions
    post(CASE + "/sessions", session_pages.open_from_case, "session_open"),
    get(CASE + "/sessions", session_pages.case_sessions, "case_sessions"),
    get(SESSION, session_pages.session_page, "session"),
    post(SESSION + "/invites", session_pages.invite_submit, "session_invite"),
    post(SESSION + "/guests", guest_pages.guest_submit, "session_guest"),
    post(
        SESSION + r"/invites/{invite_id:\d+}/revoke",
        session_pages.revoke_submit,
        "session_invite_revoke",
    ),
    post(SESSION + "/end", session_pages.end_submit, "session_end"),
    get(SESSION + "/join", session_pages.staff_join, "session_join"),
    get("/join/{token}", session_pages.party_join, "invite_landing"),
    get(r"/ws/sessions/{session_id:\d+}", ws.session_ws, "session_ws"),
    # the duty desk: the roster, an office terminal's call button, the ringing
    get("/desk", desk_pages.desk_page, "desk"),
    get("/desk/roster", desk_pages.roster_page, "desk_roster"),
    post("/desk/roster", desk_pages.roster_submit, "desk_roster_submit"),
    get("/desk/terminal", desk_pages.terminal_page, "desk_terminal"),
    get("/ws/desk", desk_socket.desk_ws, "desk_ws"),
    # recordings: pages, and the files (played with HTTP range requests)
    get(
        "/recordings/sessions/{session_id}",
        recording_pages.session_recordings,
        "recordings_session",
    ),
    post(
        "/recordings/sessions/{session_id}/composite",
        recording_pages.retry_composite,
        "composite_retry",
    ),
    post("/recordings/sessions/{session_id}/hold", recording_pages.set_hold, "recording_hold"),
    post(
        "/recordings/sessions/{session_id}/active", recording_pages.set_active, "recording_active"
    ),
    get("/admin/recordings", recording_pages.admin_page, "recordings_admin"),
    get("/admin/audit", audit_pages.admin_page, "audit_admin"),
    get("/recordings/segments/{segment_id}/play", recordings.segment_play, "recording_play"),
    get(
        "/recordings/segments/{segment_id}/download",
        recordings.segment_download,
        "recording_download",
    ),
    get(
        "/recordings/sessions/{session_id}/composite/play",
        recordings.composite_play,
        "composite_play",
    ),
    get(
        "/recordings/sessions/{session_id}/composite/download",
        recordings.composite_download,
        "composite_download",
    ),
    # agreements
    get(CASE + "/agreement", agreement_pages.case_agreement, "agreement_case"),
    post(CASE + "/agreement/confirm", agreement_pages.confirm_submit, "agreement_confirm"),
    get("/sign/{token}", agreement_pages.party_sign_page, "agreement_party_sign"),
    get("/agreements", agreement_pages.clerks_list, "agreement_list"),
    get("/verify", agreement_pages.verify_form, "verify_form"),
    get("/verify/{code}", agreement_pages.verify_page, "verify_page"),
    post("/verify/{code}", agreement_pages.verify_upload, "verify_upload"),
)


def add_routes(app: web.Application, static_dir: object) -> None:
    """Add every route of the table to ``app`` (the app factory's only routing step)."""
    app.router.add_static("/static", str(static_dir), name="static")
    operations: list[Operation] = []
    for router in API:
        for op in router.operations:
            app.router.add_route(op.method, API_PREFIX + op.path, op.handler, name=op.name)
            operations.append(op)
    app[OPERATIONS] = operations
    for route in PAGES:
        if route.method == "GET":
            # add_get also answers HEAD (a monitor's health check, a browser's prefetch), as
            # every page did before the route table.
            app.router.add_get(route.path, route.handler, name=route.name)
        else:
            app.router.add_route(route.method, route.path, route.handler, name=route.name)

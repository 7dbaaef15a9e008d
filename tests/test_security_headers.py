"""Security headers on every response (issue 12, finding 11) and an access log without
credentials (finding 12)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from server.web.accesslog import redact
from tests.agreement_helpers import share_fonts
from tests.helpers import free_port

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

PATHS = [
    "/login",
    "/static/app.css",
    "/static/js/session.js",
    "/no/such/page",
    "/cases",  # a redirect to the login
    "/api/v1/cases",  # a JSON 401
    "/api/v1/cases/99999999999999999999",
    "/join/1.abc.def",
    "/verify",
    "/healthz",
]


@SQLITE
@pytest.mark.parametrize("path", PATHS)
async def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    resp = await client.get(path, allow_redirects=False)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1][:20]
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp and "base-uri 'self'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] in ("same-origin", "no-referrer")


@SQLITE
@pytest.mark.parametrize("path", ["/join/1.abc.def", "/sign/1.abc.def", "/calendar/abc.ics",
                                  "/api/v1/invites/1.abc.def/agreement"])  # fmt: skip
async def test_pages_whose_url_is_a_credential_send_no_referrer(
    client: TestClient, path: str
) -> None:
    resp = await client.get(path, allow_redirects=False)
    assert resp.headers["Referrer-Policy"] == "no-referrer"


@SQLITE
async def test_the_agreement_document_may_be_framed_by_this_site_only(client: TestClient) -> None:
    # The route's own marker: the answer is a 4xx for this made-up token, with the same
    # framing rule the document gets.
    resp = await client.get("/api/v1/invites/1.abc.def/agreement/document")
    assert "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"


TOKEN = "17.c2VjcmV0bm9uY2U.c2lnbmF0dXJlLXRoYXQtaXMtc2VjcmV0"


def test_redact_hides_every_token_form() -> None:
    lines = {
        f"GET /join/{TOKEN} HTTP/1.1": "GET /join/[redacted] HTTP/1.1",
        f"GET /sign/{TOKEN}?lang=en HTTP/1.1": "GET /sign/[redacted]?lang=en HTTP/1.1",
        f"GET /ws/sessions/3?invite={TOKEN}": "GET /ws/sessions/3?invite=[redacted]",
        f"POST /api/v1/invites/{TOKEN}/agreement/signatures HTTP/1.1":
            "POST /api/v1/invites/[redacted]/agreement/signatures HTTP/1.1",
        "GET /calendar/abcDEF-123.ics HTTP/1.1": "GET /calendar/[redacted].ics HTTP/1.1",
        f"http://court.example/join/{TOKEN}": "http://court.example/join/[redacted]",
        # Ids are not secrets: the invite's number in a staff URL stays readable.
        "DELETE /api/v1/sessions/4/invites/9": "DELETE /api/v1/sessions/4/invites/9",
        "POST /sessions/4/invites/9/revoke HTTP/1.1": "POST /sessions/4/invites/9/revoke HTTP/1.1",
    }  # fmt: skip
    for line, expected in lines.items():
        assert redact(line) == expected


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_served_access_log_holds_no_token(sqlite_template: Path, tmp_path: Path) -> None:
    """``courtlink serve`` as an operator starts it: its access log names the requests but
    not the tokens in them."""
    data = tmp_path / "var"
    data.mkdir()
    shutil.copyfile(sqlite_template, data / "courtlink.sqlite3")
    share_fonts(data / "fonts")  # not made again in the background, as a new install would
    port = free_port()
    env = {
        **os.environ,
        "COURTLINK_DATA_DIR": str(data),
        "COURTLINK_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'courtlink.sqlite3'}",
        "COURTLINK_SECRET_KEY": "test-secret-key-not-for-production",
        "COURTLINK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "COURTLINK_SMTP_URL": "",
        "COURTLINK_REDIS_URL": "",
    }
    exe = str(Path(sys.executable).with_name("courtlink"))
    proc = subprocess.Popen(
        [exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "courtlink serving on ...", printed before it binds
        assert "serving on" in line, line
        while True:  # the port answers once the server is up
            try:
                if _get(f"http://127.0.0.1:{port}/healthz") in (200, 503):
                    break
            except (ConnectionError, urllib.error.URLError):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        base = f"http://127.0.0.1:{port}"
        _get(f"{base}/join/{TOKEN}", {"Referer": f"{base}/join/{TOKEN}"})
        _get(f"{base}/ws/sessions/1?invite={TOKEN}")
        _get(f"{base}/api/v1/invites/{TOKEN}/agreement")
        _get(f"{base}/calendar/feedtoken123.ics")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    access = [ln for ln in err.splitlines() if "aiohttp.access" in ln]
    assert len(access) >= 4, err[-2000:]
    assert any("/join/[redacted]" in ln for ln in access), access
    assert any("invite=[redacted]" in ln for ln in access), access
    assert TOKEN not in err and "c2VjcmV0bm9uY2U" not in err
    assert "feedtoken123" not in err

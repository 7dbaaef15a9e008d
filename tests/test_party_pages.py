"""Party pages (issue 14 item 6): the pre-join/lobby/room page and the signing page, opened by
a party's invite link with no court login, show the court's name, the session and help, and
none of the staff's chrome (no 登录 link, no 案件/排期/网上接待/统计报表 menu). Staff opening the
same session's room keep their navigation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.models.sessions import Invite
from server.sessions import revoke_invite
from server.settings import Settings
from tests.agreement_helpers import bearer, build_world, terms_for
from tests.helpers import login, unit
from tests.test_navigation import main_nav

HELP_PHONE = "0353-0000000"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These party pages carry the court's help line (COURTLINK_HELP_PHONE)."""
    return settings.model_copy(update={"help_phone": HELP_PHONE})


_STAFF_LINKS = ("/login", "/cases", "/schedule", "/intake", "/reports")


def _assert_party_chrome(html: str) -> None:
    assert main_nav(html) == []
    for href in _STAFF_LINKS:
        assert f'href="{href}"' not in html, href
    for word in ("登录", "案件", "排期", "网上接待", "统计报表"):
        assert f">{word}<" not in html, word
    assert "平潭区人民法院" in html
    assert 'class="party-help"' in html and "摄像头" in html
    assert f'href="tel:{HELP_PHONE}">{HELP_PHONE}</a>' in html and "有疑问请致电法院" in html


async def test_party_pages_show_no_staff_navigation(client):
    w = await build_world(client)
    token = w.tokens[w.applicant_id]
    resp = await client.get(f"/join/{token}")
    html = await resp.text()
    assert resp.status == 200, html
    _assert_party_chrome(html)
    assert "（2026）晋0303民诉前调1号" in html  # the session named in the header

    resp = await client.get(f"/sign/{token}")  # before the agreement is drafted
    _assert_party_chrome(await resp.text())
    med = await bearer(client, "med")
    resp = await client.post(f"/api/v1/cases/{w.case_id}/agreement",
                             json={"terms": terms_for(w)},
                             headers={"Authorization": f"Bearer {med}"})  # fmt: skip
    assert resp.status == 201
    html = await (await client.get(f"/sign/{token}")).text()
    _assert_party_chrome(html)
    assert "（2026）晋0303民诉前调1号" in html


async def test_staff_keep_their_navigation_in_the_room(client):
    w = await build_world(client)
    await login(client, "med")
    html = await (await client.get(f"/sessions/{w.session_id}/join")).text()
    links = dict((href, text) for text, href in main_nav(html))
    assert "/cases" in links and "/schedule" in links
    assert 'class="party-help"' not in html


async def test_a_dead_invite_link_shows_the_party_chrome(client):
    """A bad, withdrawn or expired link says so on the party's page: the court, help and the
    help line, no staff menu or 登录 link; the session is named only for a genuine link that
    was not withdrawn (a withdrawn one may have reached the wrong person)."""
    w = await build_world(client)
    for path in ("/join/1.bad.token", "/sign/1.bad.token"):
        resp = await client.get(path)
        html = await resp.text()
        assert resp.status in (401, 404) and "invite_invalid" in html, path
        _assert_party_chrome(html)
    revoked, expired = w.tokens[w.applicant_id], w.tokens[w.respondent_id]
    async with unit(client.app, w.users["mediator"]) as ctx:
        await revoke_invite(ctx, await ctx.db.get(Invite, int(revoked.split(".")[0])))
        invite = await ctx.db.get(Invite, int(expired.split(".")[0]))
        invite.expires_at = ctx.now() - timedelta(minutes=1)
    for path in (f"/join/{revoked}", f"/sign/{revoked}"):
        resp = await client.get(path)
        html = await resp.text()
        assert resp.status == 403 and "invite_revoked" in html, path
        _assert_party_chrome(html)
        assert "（2026）晋0303民诉前调1号" not in html
    for path in (f"/join/{expired}", f"/sign/{expired}"):
        resp = await client.get(path)
        html = await resp.text()
        assert resp.status == 403 and "invite_expired" in html, path
        _assert_party_chrome(html)
        assert "（2026）晋0303民诉前调1号" in html

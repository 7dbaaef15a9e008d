"""A refusal reads in the reader's language: the error page and the JSON error shape's
``message`` are Chinese unless English was asked for (``?lang=en``, then the cookie), and
``code`` stays the same for programs. Every refusal the product writes as a literal has its
Chinese wording: a resident once read "this invitation link is not valid" on a Chinese
page, and the signing page showed the server's English."""

from __future__ import annotations

from server.i18n import Catalogs
from tests.source_scan import literal_args

# The domain's error classes (server/errors.py), each taking its message first.
ERRORS = {
    name: 0
    for name in (
        "AppError",
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "Conflict",
        "PayloadTooLarge",
        "UnsupportedMedia",
        "Invalid",
        "TooManyRequests",
    )
}


def test_the_scan_finds_the_refusals():
    found = literal_args(ERRORS)
    assert {"this invitation link is not valid", "type your name"} <= set(found)
    assert len(found) > 100


def test_every_refusal_has_its_chinese_wording():
    zh = Catalogs().gettext("zh_CN")
    missing = {msg: where for msg, where in literal_args(ERRORS).items() if zh(msg) == msg}
    assert missing == {}, f"add to web/translations/zh_CN/LC_MESSAGES/errors.po: {missing}"


NO_SUCH_CODE = "no sealed document has this verification code"


async def test_the_json_error_speaks_the_readers_language(client):
    resp = await client.get("/api/v1/verify/NOSUCHCODE")
    body = await resp.json()
    assert resp.status == 404 and body["error"]["code"] == "unknown_code"
    assert body["error"]["message"] == "没有与此验证码对应的签章文书"
    resp = await client.get("/api/v1/verify/NOSUCHCODE?lang=en")
    assert (await resp.json())["error"]["message"] == NO_SUCH_CODE
    # A page's own requests carry the language the reader chose on a page (its cookie).
    assert (await client.get("/login?lang=en")).status == 200
    resp = await client.get("/api/v1/verify/NOSUCHCODE")
    assert (await resp.json())["error"]["message"] == NO_SUCH_CODE


async def test_a_dead_link_and_a_missing_page_say_so_in_chinese(client):
    page = await (await client.get("/join/not-a-link")).text()
    assert "此邀请链接无效" in page and "not valid" not in page
    page = await (await client.get("/no/such/page")).text()
    assert "页面不存在" in page and "Not Found" not in page

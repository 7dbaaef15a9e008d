"""A refusal from signaling reaches the room's toast worded for people, by its code, in the
reader's language (``room_strings``' ``err_*``): the message beside the code is the log's
English, with names in it ("X is not in the lobby"). A new code must say which it is."""

from __future__ import annotations

import json
import re

from signaling import protocol as p
from tests.agreement_helpers import build_world

# Codes a person can meet in a working room: each worded on its own.
FOR_PEOPLE = {
    p.NOT_ALLOWED,
    p.NO_SUCH_PARTICIPANT,
    p.BAD_STATE,
    p.SESSION_ENDED,
    p.RATE_LIMITED,
    p.CAUCUS_NOT_ALLOWED,
    p.INTERNAL,
}
# The page and the server not understanding each other: one wording, "reload the page".
PROTOCOL = {
    p.BAD_JSON,
    p.TOO_LARGE,
    p.BAD_VERSION,
    p.UNKNOWN_TYPE,
    p.INVALID,
    p.NOT_JOINED,
    p.ALREADY_JOINED,
}
# The pre-join asks for the name again (web/static/js/room.js), and says why itself.
OWN_HANDLING = {p.NAME_MISMATCH}


def test_every_code_is_sorted():
    codes = {
        value
        for name, value in vars(p).items()
        if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z_]+", value)
    }
    assert codes == FOR_PEOPLE | PROTOCOL | OWN_HANDLING


async def test_the_room_words_each_refusal_in_chinese(client):
    w = await build_world(client)
    html = await (await client.get(f"/join/{w.tokens[w.applicant_id]}")).text()
    config = json.loads(html.split('id="session-config">', 1)[1].split("</script>", 1)[0])
    strings = config["strings"]
    for code in FOR_PEOPLE | {"protocol"}:
        text = strings[f"err_{code}"]
        assert re.search(r"[\u4e00-\u9fff]", text), (code, text)
    assert strings["err_no_such_participant"] == "此人已不在会话中。"

"""Reports on a small docket (built by the court's own moves, each on its day) whose every
figure is counted by hand below, the page, the CSV and the API with their access matrix, and
the SVG charts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server import docket
from server.docket.schemas import CaseCreate
from server.models.accounts import Office
from server.models.docket import Stage
from server.svgcharts import bar_chart, donut_chart, line_chart
from tests.docket_helpers import court_admin, parties
from tests.helpers import csrf, login, make_user, unit
from tests.test_users import api_token

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=SH).astimezone(UTC)


PRE, PRETRIAL, FAST = "mediated_pre_litigation", "mediated_pretrial", "mediated_fast_track"
ADJ, WD = "adjudicated", "withdrawn"


def d26(m: int, d: int) -> datetime:
    return local(2026, m, d)


NEW_YEAR_01H = datetime(2025, 12, 31, 17, tzinfo=UTC)
# (name, office, stage, outcome, was_pre_litigation, was_filed, created, resolved, deadline)
# Working days after registration up to resolution are in the comments (official calendar).
CASES = [
    ("A", "shaping", "intake", None, False, False, d26(3, 2), None, None),
    ("B", "shaping", "closed", WD, False, False, d26(3, 2), d26(3, 3), None),
    ("C", "shaping", "closed", PRE, True, False, d26(3, 2), d26(3, 9), None),  # 5
    ("D", "caiwa", "judicial_confirmation", PRE, True, False, d26(3, 3), d26(3, 5), None),  # 2
    ("E", "center", "closed", PRETRIAL, True, True, d26(3, 2), d26(3, 13), None),  # 9
    ("F", "shaping", "mediated", PRETRIAL, False, True, d26(5, 11), d26(5, 12), None),  # 1
    # 4 working days, decided before the deadline
    ("G", "shaping", "adjudicated", ADJ, False, True, d26(6, 1), d26(6, 5), date(2026, 6, 8)),
    # 9 working days, decided after the deadline
    ("H", "caiwa", "closed", ADJ, False, True, d26(6, 1), d26(6, 12), date(2026, 6, 9)),
    # 1 working day, mediated in fast-track on time
    ("I", "center", "closed", FAST, False, True, d26(3, 9), d26(3, 10), date(2026, 3, 16)),
    ("J", "shaping", "withdrawn", WD, False, True, d26(3, 2), d26(3, 4), None),
    ("K", "caiwa", "filed", None, False, True, d26(11, 2), None, None),
    ("L", "shaping", "pre_litigation_mediation", None, True, False, d26(11, 2), None, None),
    # Registered 2025-12-31 23:00 in the court's zone: a 2025 case.
    ("M", "shaping", "mediated", PRE, True, False, local(2025, 12, 31, 23), d26(1, 6), None),
    # 2025-12-31 17:00 UTC is 2026-01-01 01:00 in Shanghai: a 2026 case. 1-2 and 1-3 are
    # holidays and Sunday 1-4 a swapped working day: 2 working days to 1-5.
    ("N", "center", "closed", PRE, True, False, NEW_YEAR_01H, d26(1, 5), None),
]  # fmt: skip
# How each case got there: the moves, each on its day (None: the day it was registered).
# The seed makes them through the domain functions and checks that every case ends as the
# row above says, so the docket is one the court could have.
_P, _F, _T = "pre_litigation_mediation", "filed", "pretrial_mediation"
_FT, _M, _C, _W = "fast_track", "mediated", "closed", "withdrawn"
PATHS: dict[str, tuple[tuple[str, datetime | None], ...]] = {
    "A": (),
    "B": ((_W, d26(3, 3)), (_C, d26(3, 3))),
    "C": ((_P, None), (_M, d26(3, 9)), (_C, d26(3, 9))),
    "D": ((_P, None), (_M, d26(3, 5)), ("judicial_confirmation", d26(3, 5))),
    "E": ((_P, None), (_F, None), (_T, None), (_M, d26(3, 13)), (_C, d26(3, 13))),
    "F": ((_F, None), (_T, None), (_M, d26(5, 12))),
    "G": ((_F, None), (_FT, None), ("adjudicated", d26(6, 5))),  # deadline Mon 6-8
    "H": ((_F, None), (_FT, d26(6, 2)), ("adjudicated", d26(6, 12)), (_C, d26(6, 12))),
    "I": ((_F, None), (_FT, None), (_M, d26(3, 10)), (_C, d26(3, 10))),
    "J": ((_F, None), (_W, d26(3, 4))),
    "K": ((_F, None),),
    "L": ((_P, None),),
    "M": ((_P, None), (_M, d26(1, 6))),
    "N": ((_P, None), (_M, d26(1, 5)), (_C, d26(1, 5))),
}  # fmt: skip


USERS = {
    "med1": ("mediator", "center"),
    "med2": ("mediator", "center"),
    "judge1": ("judge", "center"),
    "med_shaping": ("mediator", "shaping"),
    "clerk1": ("clerk", "center"),
    "staff_shaping": ("office_staff", "shaping"),
    "admin1": ("admin", "center"),
}


async def _seed(client, *only: str) -> None:
    admin = await court_admin(client)
    async with unit(client.app, admin) as ctx:
        offices = {o.code: o.id for o in (await ctx.db.scalars(select(Office))).all()}
        for name, office, stage, outcome, pre, filed, created, resolved, deadline in CASES:
            ctx.clock = lambda at=created: at
            case = await docket.create_case(
                ctx,
                CaseCreate(cause=f"民间借贷纠纷 {name}", parties=parties(True)),
                office_id=offices[office],
            )
            for to_stage, on in PATHS[name]:
                ctx.clock = lambda at=on or created: at
                await docket.transition(ctx, case, Stage(to_stage))
            got = (
                case.stage, case.outcome, case.was_pre_litigation, case.was_filed,
                case.created_at, case.resolved_at, case.fast_track_deadline,
            )  # fmt: skip
            assert got == (stage, outcome, pre, filed, created, resolved, deadline), name
    # The center's judicial resources: active mediators and judges of the center only.
    for username, (role, office) in USERS.items():
        if not only or username in only:
            await make_user(client, username, role, office)
    if not only:
        await make_user(client, "judge_gone", "judge", active=False)


async def _api(client, headers, query: str):
    resp = await client.get(f"/api/v1/reports?{query}", headers=headers)
    return resp.status, await resp.json()


async def test_figures_of_the_hand_built_docket(client):
    await _seed(client)
    headers = {"Authorization": f"Bearer {await api_token(client, 'clerk1')}"}
    status, r = await _api(client, headers, "year=2026")
    assert status == 200, r
    assert r["office"] is None
    assert r["cases"] == 13
    assert r["civil_cases"] == 11  # all but A and B, which never left intake
    assert r["civil_trial_cases"] == 7  # E F G H I J K
    assert (r["pretrial_mediated"], r["pretrial_share"]) == (2, 28.57)  # E F of 7
    assert (r["pre_litigation_mediated"], r["pre_litigation_share"]) == (3, 27.27)  # C D N of 11
    assert (r["center_staff"], r["judicial_staff"], r["resources_share"]) == (3, 80, 3.75)
    assert (r["resolved_by_center"], r["workload_share"]) == (8, 72.73)  # C D E F G H I N
    assert r["average_workdays"] == 4.1  # (5+2+9+1+4+9+1+2)/8 = 4.125
    assert (r["fast_track_decided"], r["fast_track_in_time"]) == (3, 2)  # G H I; G I on time
    assert r["fast_track_in_time_share"] == 66.67
    assert r["by_stage"] == {
        "intake": 1, "pre_litigation_mediation": 1, "filed": 1, "pretrial_mediation": 0,
        "fast_track": 0, "mediated": 1, "judicial_confirmation": 1, "adjudicated": 1,
        "withdrawn": 1, "closed": 6,  # B C E H I N
    }  # fmt: skip
    assert r["by_outcome"] == {
        "mediated_pre_litigation": 3, "mediated_pretrial": 2, "mediated_fast_track": 1,
        "adjudicated": 2, "withdrawn": 2, "pending": 3,
    }  # fmt: skip
    assert r["registered_by_month"] == [1, 0, 7, 0, 1, 2, 0, 0, 0, 0, 2, 0]
    assert r["resolved_by_month"] == [1, 0, 4, 0, 1, 2, 0, 0, 0, 0, 0, 0]


async def test_one_office_and_another_year(client):
    await _seed(client)
    headers = {"Authorization": f"Bearer {await api_token(client, 'admin1')}"}
    _, r = await _api(client, headers, "year=2026&office=shaping")
    assert r["office"] == "shaping"
    assert (r["cases"], r["civil_cases"], r["civil_trial_cases"]) == (7, 5, 3)
    assert (r["pretrial_share"], r["pre_litigation_share"], r["workload_share"]) == (
        33.33,
        20.0,
        60.0,
    )
    assert r["resources_share"] == 3.75  # court-wide even for one office
    _, r = await _api(client, headers, "year=2025")
    assert (r["cases"], r["pre_litigation_share"], r["pretrial_share"]) == (1, 100.0, None)
    _, r = await _api(client, headers, "year=2024")
    assert r["cases"] == 0 and r["average_workdays"] is None


@pytest.mark.parametrize(
    ("user", "query", "status"),
    [
        ("admin1", "year=2026", 200),
        ("clerk1", "office=caiwa", 200),
        ("judge1", "", 200),
        ("med1", "office=shaping", 200),
        ("staff_shaping", "", 200),
        ("staff_shaping", "office=shaping", 200),
        ("staff_shaping", "office=caiwa", 403),
        ("clerk1", "office=atlantis", 422),
        ("clerk1", "year=1900", 422),
        ("clerk1", "year=soon", 422),
        ("clerk1", "colour=red", 422),
    ],
)
async def test_access_matrix_api_page_and_csv(client, user, query, status):
    await _seed(client, user)
    headers = {"Authorization": f"Bearer {await api_token(client, user)}"}
    resp = await client.get(f"/api/v1/reports?{query}", headers=headers)
    assert resp.status == status, await resp.text()
    if status != 200:
        assert "error" in await resp.json()
    else:
        body = await resp.json()
        if user == "staff_shaping":  # office staff get their own office's figures
            assert body["office"] == "shaping"
    await login(client, user)
    for path in ("/reports", "/reports.csv"):
        resp = await client.get(f"{path}?{query}")
        assert resp.status == status, (path, await resp.text())


async def test_anonymous_sees_no_report(client):
    await _seed(client, "clerk1")
    resp = await client.get("/api/v1/reports")
    assert resp.status == 401
    for path in ("/reports", "/reports.csv"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"].startswith("/login")


async def test_page_shows_figures_charts_and_definitions(client):
    await _seed(client)
    await login(client, "clerk1")
    html = await (await client.get("/reports?year=2026")).text()
    assert "28.57" in html and "27.27" in html and "72.73" in html
    assert "庭前调解案件占民事一审案件比例" in html  # Chinese by default
    assert html.count("<svg") == 4 and html.count("<title id=") == 4  # with the desk's calls
    assert "各项指标的统计口径" in html  # the definitions
    assert 'href="/reports.csv?year=2026"' in html
    html = await (await client.get("/reports?year=2026&lang=en")).text()
    assert "Pretrial-mediated share of civil trial cases" in html
    # Office staff are offered their own office only, never "all offices".
    await client.post("/logout", data={"csrf_token": csrf(client)})
    await login(client, "staff_shaping")
    html = await (await client.get("/reports")).text()
    assert 'value="shaping" selected' in html and 'value="caiwa"' not in html
    assert "全部单位" not in html


async def test_csv_is_utf8_with_bom_and_holds_the_figures(client):
    await _seed(client)
    await login(client, "clerk1")
    resp = await client.get("/reports.csv?year=2026&office=shaping")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert "courtlink-report-2026-shaping.csv" in resp.headers["Content-Disposition"]
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = dict(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows["指标"] == "数值"
    assert rows["庭前调解案件占民事一审案件比例"] == "33.33%"
    assert rows["诉前调解案件占全部民事案件比例"] == "20.00%"
    assert rows["民事案件"] == "5"


def test_charts_are_accessible_and_escape_their_text():
    svg = bar_chart("b", "阶段 <script>", [("登记", 3), ("<b>", 0)])
    assert 'role="img"' in svg and 'aria-labelledby="b-t b-d"' in svg
    assert '<title id="b-t">阶段 &lt;script&gt;</title>' in svg
    assert '<desc id="b-d">登记: 3; &lt;b&gt;: 0</desc>' in svg
    assert ">3</text>" in svg and "<b>" not in svg
    donut = donut_chart("d", "结果", [("调解", 3), ("判决", 1)])
    assert "调解: 3 (75.0%)" in donut and donut.count("<path") == 2
    assert donut_chart("d1", "x", [("only", 2), ("none", 0)]).count("<circle") == 1
    assert "–" in donut_chart("d0", "empty", [("a", 0)])
    line = line_chart("l", "月", ["1", "2"], [("登记", [1, 4]), ("化解", [0, 2])])
    assert line.count("<polyline") == 2 and ">4</text>" in line

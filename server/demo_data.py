"""What ``courtlink demo`` seeds: the demo accounts and the plan of a year of sample cases.

The plan is fixed (a seeded random generator), so every run produces the same docket. Each
path below is a route through the stage machine; the counts are chosen so that the 2026
report reproduces the court's figures exactly (definitions in ``server.reports``):

- civil trial cases (filed) = 169, of which pretrial-mediated = 58 → 34.32%;
- civil cases = 258, of which pre-litigation-mediated = 64 → 24.81%;
- resolved by the center (mediated 122 + fast-track decided 8 + mediated in fast-track 2)
  = 132 of 258 → 51.16%, by 4 mediators and judges of a judicial staff of 80 → 5.00%.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from server.workdays import WorkCalendar

DEMO_YEAR = 2026
FIRST_DAY = date(DEMO_YEAR, 1, 5)
LAST_DAY = date(DEMO_YEAR, 11, 20)  # every resolved sample case lies before this day

# (username, role, office, display name, password)
USERS = [
    ("admin", "admin", "center", "周平", "demo-admin"),
    ("clerk", "clerk", "center", "刘洋", "demo-clerk"),
    ("judge", "judge", "center", "陈静", "demo-judge"),
    ("mediator", "mediator", "center", "李秀英", "demo-mediator"),
    ("staff.shaping", "office_staff", "shaping", "郑浩", "demo-office_staff"),
    ("judge2", "judge", "center", "杨帆", "demo-judge"),
    ("mediator2", "mediator", "center", "张伟", "demo-mediator"),
    ("staff.pingtan", "office_staff", "pingtan", "赵敏", "demo-office_staff"),
    ("staff.qiaotou", "office_staff", "qiaotou", "孙磊", "demo-office_staff"),
    ("staff.saiyu", "office_staff", "saiyu", "吴婷", "demo-office_staff"),
    ("staff.caiwa", "office_staff", "caiwa", "冯丽", "demo-office_staff"),
    ("staff.shangshe", "office_staff", "shangshe", "何军", "demo-office_staff"),
]
OFFICES = ["center", "pingtan", "qiaotou", "saiyu", "shaping", "caiwa", "shangshe"]
STREET_OFFICES = OFFICES[1:]

# What an in-progress case in mediation is for on the demo's day (``server.demo_today``):
# booked for later today, booked for a coming day, left waiting to be booked, or the
# mediator's session that is live now.
TODAY, LATER, WAITING, LIVE = "today", "later", "waiting", "live"
LIVE_OFFICE = "pingtan"

# A step: (stage to move to, role that moves it, note, (min, max) working days after the
# step before). "assign" is the clerk assigning mediator, judge and clerk.
Step = tuple[str, str, str, tuple[int, int]]
ASSIGN: Step = ("assign", "clerk", "", (0, 0))
PRE: Step = ("pre_litigation_mediation", "mediator", "双方同意诉前调解", (0, 2))
PRE_OK: Step = ("mediated", "mediator", "调解成功，签署调解协议", (3, 20))
CONFIRM: Step = ("judicial_confirmation", "judge", "申请司法确认，裁定确认调解协议有效", (2, 8))
CLOSE: Step = ("closed", "clerk", "结案归档", (1, 5))
PRE_FAIL: Step = ("filed", "clerk", "诉前调解不成，依法登记立案", (5, 15))
PRE_DROP: Step = ("withdrawn", "mediator", "申请人撤回调解申请", (2, 10))
FILE: Step = ("filed", "clerk", "登记立案", (0, 3))
STAY: Step = ("filed", "clerk", "登记立案，移送民事审判庭审理", (0, 3))
PRETRIAL: Step = ("pretrial_mediation", "mediator", "双方同意庭前调解", (1, 3))
PRETRIAL_OK: Step = ("mediated", "mediator", "庭前调解成功，出具民事调解书", (3, 15))
PRETRIAL_FAIL: Step = ("fast_track", "judge", "庭前调解不成，转速裁审理", (3, 10))
FAST: Step = ("fast_track", "judge", "适用简易程序，转速裁庭审理", (1, 3))
DECIDE: Step = ("adjudicated", "judge", "速裁庭当庭宣判", (1, 5))
DECIDE_LATE: Step = ("adjudicated", "judge", "速裁庭宣判（补充证据后）", (7, 7))
FAST_OK: Step = ("mediated", "judge", "速裁庭主持调解成功", (1, 4))
DROP: Step = ("withdrawn", "clerk", "原告申请撤诉", (3, 20))

# name: (how many, whether every party agrees to mediate, the steps after registration)
PATHS: dict[str, tuple[int, bool, list[Step]]] = {
    "pre_confirmed": (20, True, [ASSIGN, PRE, PRE_OK, CONFIRM, CLOSE]),
    "pre_closed": (30, True, [ASSIGN, PRE, PRE_OK, CLOSE]),
    "pre_mediated": (14, True, [ASSIGN, PRE, PRE_OK]),
    # 22 withdrawn in the court's year: these 6, and the 16 still in mediation today that
    # the street offices book (``demo.Seeder.in_progress``) count alike in every figure.
    "pre_withdrawn": (6, True, [ASSIGN, PRE, PRE_DROP, CLOSE]),
    "pre_then_pretrial": (20, True, [ASSIGN, PRE, PRE_FAIL, PRETRIAL, PRETRIAL_OK, CLOSE]),
    "pre_then_trial": (20, True, [ASSIGN, PRE, PRE_FAIL]),
    "pretrial": (38, True, [ASSIGN, FILE, PRETRIAL, PRETRIAL_OK, CLOSE]),
    "fast_decided": (5, False, [ASSIGN, FILE, FAST, DECIDE, CLOSE]),
    "fast_decided_late": (1, False, [ASSIGN, FILE, FAST, DECIDE_LATE, CLOSE]),
    "pretrial_then_fast": (2, True, [ASSIGN, FILE, PRETRIAL, PRETRIAL_FAIL, DECIDE, CLOSE]),
    "fast_mediated": (2, False, [ASSIGN, FILE, FAST, FAST_OK, CLOSE]),
    "filed_withdrawn": (19, False, [ASSIGN, FILE, DROP, CLOSE]),
    # Handed to the trial divisions: the center assigns nobody to them.
    "trial": (60, False, [STAY]),
    "intake_withdrawn": (
        2,
        False,
        [("withdrawn", "clerk", "当事人自行和解，撤回登记", (1, 5)), CLOSE],
    ),
}

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
    "顾侯邵孟龙万段"
)
GIVEN = [
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
    "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "玉兰",
    "建国", "志强", "海燕", "红梅", "晓东", "丽娟", "国庆", "春生", "淑珍", "小红", "永刚",
]  # fmt: skip
COMPANIES = ["平潭物业服务有限公司", "晋阳建材商贸有限公司", "桥头家居装饰有限公司",
             "赛鱼农产品购销有限公司", "沙坪汽车运输有限公司", "上社建筑劳务有限公司"]  # fmt: skip
STREETS = ["平潭街", "桥头街", "赛鱼路", "沙坪路", "蔡洼村", "上社街", "桃北路", "德胜街"]

# (cause, smallest and largest claim in yuan, applicant is a company, facts). The facts name
# the sides as a mediation does (申请人, 被申请人), not as a trial does (原告, 被告).
CAUSES: list[tuple[str, int, int, bool, str]] = [
    ("民间借贷纠纷", 20_000, 300_000, False, "被申请人向申请人借款，约定期限届满后未归还。"),
    ("买卖合同纠纷", 8_000, 400_000, True, "申请人依约供货，被申请人尚欠货款未付。"),
    ("物业服务合同纠纷", 1_200, 15_000, True, "被申请人长期拖欠物业服务费，经催缴未付。"),
    ("劳务合同纠纷", 3_000, 60_000, False, "申请人为被申请人提供劳务，被申请人拖欠劳务报酬。"),
    ("机动车交通事故责任纠纷", 5_000, 200_000, False, "双方发生交通事故，就赔偿数额协商未果。"),
    ("离婚纠纷", 0, 0, False, "双方感情破裂，就离婚及子女抚养、财产分割发生争议。"),
    ("房屋租赁合同纠纷", 4_000, 80_000, False, "被申请人承租申请人房屋，拖欠租金并逾期不搬离。"),
    ("装饰装修合同纠纷", 10_000, 150_000, True, "双方就装修工程质量及工程款结算发生争议。"),
    ("相邻关系纠纷", 0, 20_000, False, "双方系邻居，因排水、通行问题发生纠纷。"),
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(rng: random.Random) -> str:
    """A well-formed (checksummed) but made-up resident ID number of the court's district."""
    born = date(rng.randint(1955, 2002), rng.randint(1, 12), rng.randint(1, 28))
    body = f"140303{born:%Y%m%d}{rng.randint(0, 999):03d}"
    total = sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


@dataclass
class PlannedCase:
    path: str
    office: str
    cause: str
    facts: str
    claim_fen: int
    parties: list[dict[str, object]]
    registered: date
    steps: list[tuple[date, Step]] = field(default_factory=list)
    purpose: str = ""  # TODAY, LATER, WAITING, LIVE or nothing
    mediator: str = ""  # the username assigned, when it matters


def parties_for(rng: random.Random, company: bool, consent: bool | None) -> list[dict[str, object]]:
    """An applicant and a respondent. ``consent``: True both agree to mediate; False the
    respondent refuses (why a case goes straight to trial); None nobody was asked yet."""
    out: list[dict[str, object]] = []
    for side in ("applicant", "respondent"):
        org = company and side == "applicant"
        answer = consent if consent is not False else side == "applicant"
        out.append(
            {
                "side": side,
                "kind": "organisation" if org else "person",
                "name": rng.choice(COMPANIES) if org else person(rng),
                "id_number": "" if org else resident_id(rng),
                "phone": f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
                "address": f"{rng.choice(STREETS)}{rng.randint(1, 200)}号",
                "consent": answer,
            }
        )
    return out


def new_case(rng: random.Random, path: str, consent: bool | None, day: date) -> PlannedCase:
    cause, low, high, company, facts = rng.choice(CAUSES)
    return PlannedCase(
        path=path,
        office=rng.choice(OFFICES),
        cause=cause,
        facts=facts,
        # Whole hundreds of yuan, in fen.
        claim_fen=rng.randint(low // 100, high // 100) * 10_000 if high else 0,
        parties=parties_for(rng, company, consent),
        registered=day,
    )


def filed_online(index: int, office: str) -> bool:
    """Whether the year's case ``index`` of ``office`` was filed online by the resident
    (one street-office case in nine), not registered by the office or the court."""
    return office != "center" and index % 9 == 0


def plan_year(rng: random.Random, calendar: WorkCalendar) -> list[PlannedCase]:
    """The year's resolved and parked cases, every step on a working day from FIRST_DAY to
    LAST_DAY: each case's registration day leaves room for all its steps before LAST_DAY."""
    # The year's working days once, so "n working days later" is an index step (the calendar
    # answers day by day, and the plan asks thousands of times).
    days = [FIRST_DAY + timedelta(n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    workdays = [d for d in days if calendar.is_workday(d)]
    planned: list[PlannedCase] = []
    for name, (count, agrees, steps) in PATHS.items():
        for _ in range(count):
            gaps = [rng.randint(lo, hi) for _stage, _role, _note, (lo, hi) in steps]
            at = rng.randint(0, len(workdays) - 1 - sum(gaps))
            case = new_case(rng, name, agrees, workdays[at])
            for step, gap in zip(steps, gaps, strict=True):
                at += gap
                case.steps.append((workdays[at], step))
            planned.append(case)
    return planned

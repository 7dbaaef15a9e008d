"""From a case and the mediator's terms to the document: the snapshot that is hashed and
signed, and the template context that renders it (preview, session view and PDF alike).

The snapshot freezes everything the document shows (court, case, parties, mediator, terms,
template version), so a signature binds to exactly what the signer saw even if the case
record changes later.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from server.agreements.terms import METHOD_LABELS_ZH, Terms
from server.errors import Invalid
from server.formatting import local_time, mask_id_number
from server.models.agreements import AgreementSignature, AgreementTemplateVersion
from server.models.docket import Case

SIDE_LABEL = {"applicant": "申请人", "respondent": "被申请人"}


def snapshot(
    case: Case,
    terms: Terms,
    template: AgreementTemplateVersion,
    court_name: str,
    guests: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The frozen document data. Refuses terms naming a party not in this case. ``guests``:
    who took part in joint mediation (``server.guests.agreement_guests``), named in the text
    and never signing; left out when there are none, so that an agreement without guests
    keeps the hash its text always had."""
    ids = {p.id for p in case.parties}
    for i, o in enumerate(terms.obligations):
        for pid in (o.obligor_party_id, o.obligee_party_id):
            if pid not in ids:
                raise Invalid(
                    "obligations.{i}: party {party} is not a party of this case",
                    code="unknown_party",
                    values={"i": i, "party": pid},
                )
    mediator = case.mediator.display_name if case.mediator else ""
    # Two different units: the case's office is where the case came from (a street office
    # registers it), the mediator's own office is who mediated it (诉调对接中心, say).
    mediator_office = case.mediator.office.name_zh if case.mediator else ""
    return {
        "court": court_name,
        "template": {
            "id": template.template_id,
            "version_id": template.id,
            "sha256": template.sha256,
        },
        "case": {
            "id": case.id,
            "number": case.number or "",
            "cause": case.cause,
            "facts": case.facts,
            "office": case.office.name_zh,
            "mediator": mediator,
            "mediator_office": mediator_office,
        },
        "parties": [
            {
                "id": p.id,
                "side": p.side,
                "kind": p.kind,
                "name": p.name,
                "id_number": p.id_number or "",
                "address": p.address or "",
                "phone": p.phone or "",
                "representative": p.representative or "",
            }
            for p in case.parties
        ],
        "terms": terms.model_dump(mode="json"),
    } | ({"guests": guests} if guests else {})


def masked(data: dict[str, Any]) -> dict[str, Any]:
    """The snapshot with the parties' ID numbers masked as the case API masks them, for a
    viewer who may not read the original (``access.can_read_agreement_original``)."""
    parties = [{**p, "id_number": mask_id_number(p.get("id_number"))} for p in data["parties"]]
    return {**data, "parties": parties}


@dataclass
class Seal:
    code: str = ""
    qr: str = ""
    url: str = ""
    signer_note: str = ""


@dataclass
class RulingInfo:
    number: str
    date: dt.date
    judge: str
    clerk: str
    agreement_number: str
    agreement_code: str
    agreement_sealed_on: dt.date


@dataclass
class RenderInput:
    data: dict[str, Any]
    content_hash: str
    version_number: int
    signatures: list[AgreementSignature] = field(default_factory=list)
    seal: Seal = field(default_factory=Seal)
    development: bool = False
    tz: str = "Asia/Shanghai"
    ruling: RulingInfo | None = None


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _when(value: datetime, tz: str) -> str:
    return local_time(value, tz)


def context(inp: RenderInput) -> dict[str, Any]:
    """Everything a document template may use."""
    data = inp.data
    parties = data["parties"]
    names = {p["id"]: p["name"] for p in parties}
    obligations = [
        {
            **o,
            "obligor": names.get(o["obligor_party_id"], "?"),
            "obligee": names.get(o["obligee_party_id"], "?"),
            "method": METHOD_LABELS_ZH.get(o["method"], o["method"]),
        }
        for o in data["terms"]["obligations"]
    ]
    by_party = {s.party_id: s for s in inp.signatures if s.role == "party"}
    mediator_sig = next((s for s in inp.signatures if s.role == "mediator"), None)
    rows = []
    for p in parties:
        s = by_party.get(p["id"])
        rows.append(
            {
                "label": f"{SIDE_LABEL.get(p['side'], p['side'])}（签名）：{p['name']}",
                "image": _data_uri(s.image_png) if s else "",
                "name": s.typed_name if s else "",
                "when": _when(s.signed_at, inp.tz) if s else "",
            }
        )
    rows.append(
        {
            "label": f"调解员（签名）：{data['case']['mediator']}",
            "image": _data_uri(mediator_sig.image_png) if mediator_sig else "",
            "name": mediator_sig.typed_name if mediator_sig else "",
            "when": _when(mediator_sig.signed_at, inp.tz) if mediator_sig else "",
        }
    )
    ctx: dict[str, Any] = {
        "court": data["court"],
        # A snapshot frozen before the mediator's unit was recorded has none: "" (the
        # templates then fall back to the case's office, as those versions said).
        "case": {"mediator_office": "", **data["case"]},
        "parties": parties,
        "guests": data.get("guests", []),
        "applicants": [p for p in parties if p["side"] == "applicant"],
        "respondents": [p for p in parties if p["side"] != "applicant"],
        "party_names": "、".join(p["name"] for p in parties),
        "obligations": obligations,
        "clauses": data["terms"]["clauses"],
        "signature_rows": rows,
        "seal": inp.seal,
        "development": inp.development,
        "content_hash": inp.content_hash,
        "version_number": inp.version_number,
    }
    if inp.ruling is not None:
        r = inp.ruling
        ctx["ruling"] = {"number": r.number, "date": r.date, "judge": r.judge, "clerk": r.clerk}
        ctx["agreement"] = {
            "number": r.agreement_number,
            "code": r.agreement_code,
            "sealed_on": r.agreement_sealed_on,
        }
    return ctx


def sample_context() -> dict[str, Any]:
    """A filled-in example both kinds of template must render (checked on every edit)."""
    data = {
        "court": "平潭区人民法院",
        "template": {"id": 0, "version_id": 0, "sha256": ""},
        "case": {
            "id": 0,
            "number": "（2026）晋0303民诉前调1号",
            "cause": "民间借贷纠纷",
            "facts": "申请人借给被申请人人民币五万元，被申请人到期未还。",
            "office": "蔡洼街道办事处",
            "mediator": "王调解",
            "mediator_office": "诉调对接中心",
        },
        "parties": [
            {
                "id": 1,
                "side": "applicant",
                "kind": "person",
                "name": "张三",
                "id_number": "",
                "address": "平潭街1号",
                "phone": "",
                "representative": "",
            },
            {
                "id": 2,
                "side": "respondent",
                "kind": "person",
                "name": "李四",
                "id_number": "",
                "address": "",
                "phone": "",
                "representative": "",
            },
        ],
        "terms": {
            "obligations": [
                {
                    "obligor_party_id": 2,
                    "obligee_party_id": 1,
                    "action": "pay",
                    "description": "借款",
                    "amount_fen": 5000000,
                    "due_date": "2026-12-31",
                    "method": "bank_transfer",
                }
            ],
            "clauses": ["双方就本纠纷再无其他争议。"],
        },
    }
    ruling = RulingInfo(
        "（2026）晋0303民特1号",
        date(2026, 12, 1),
        "赵法官",
        "钱书记",
        "（2026）晋0303民诉前调1号",
        "SAMPLE",
        date(2026, 11, 30),
    )
    return context(RenderInput(data, "0" * 64, 1, ruling=ruling))

"""What the mediator enters (obligations and free clauses), its validation, and the one
canonical serialization whose SHA-256 every signature binds to.

An amount is a positive whole number of fen: ``100`` is one yuan; ``1.5``, ``"100"``, ``0``,
``-3`` and ``true`` are refused, never rounded.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    field_validator,
    model_validator,
)

from server.bounds import Day, RowId

MAX_FEN = 10**15
METHODS = ("bank_transfer", "cash", "wechat_alipay", "other")
METHOD_LABELS_ZH = {
    "bank_transfer": "银行转账",
    "cash": "现金",
    "wechat_alipay": "微信或支付宝转账",
    "other": "双方约定的方式",
}


class Obligation(BaseModel):
    """Who pays (or does) what, to whom, how much, by when and how."""

    model_config = ConfigDict(extra="forbid")
    obligor_party_id: Annotated[RowId, Strict()] = Field(description="party who pays or acts")
    obligee_party_id: Annotated[RowId, Strict()] = Field(description="party who receives")
    action: Literal["pay", "do"] = "pay"
    description: str = Field(default="", max_length=500, description="what is paid or done")
    amount_fen: StrictInt | None = Field(
        default=None, description="positive whole fen (required to pay)"
    )
    due_date: Day
    method: Literal["bank_transfer", "cash", "wechat_alipay", "other"] = "bank_transfer"

    @field_validator("description")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _amount(self) -> Obligation:
        if self.action == "pay":
            if self.amount_fen is None or isinstance(self.amount_fen, bool):
                raise ValueError("a payment needs amount_fen, a positive whole number of fen")
            if not 0 < self.amount_fen < MAX_FEN:
                raise ValueError("amount_fen must be a positive whole number of fen")
        else:
            if self.amount_fen is not None:
                raise ValueError("only a payment carries amount_fen")
            if not self.description:
                raise ValueError("say what is to be done in description")
        if self.obligor_party_id == self.obligee_party_id:
            raise ValueError("a party cannot owe itself")
        return self


class Terms(BaseModel):
    model_config = ConfigDict(extra="forbid")
    obligations: list[Obligation] = Field(default_factory=list, max_length=50)
    clauses: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("clauses")
    @classmethod
    def _clauses(cls, value: list[str]) -> list[str]:
        out = [c.strip() for c in value]
        if any(not c for c in out):
            raise ValueError("a clause may not be empty")
        if any(len(c) > 4000 for c in out):
            raise ValueError("a clause is at most 4000 characters")
        return out

    @model_validator(mode="after")
    def _not_empty(self) -> Terms:
        if not self.obligations and not self.clauses:
            raise ValueError("the terms are empty: enter at least one obligation or clause")
        return self


def canonical_json(data: Any) -> bytes:
    """The canonical serialization: sorted keys, no spaces, UTF-8, dates as ISO strings."""
    return json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode()


def content_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_SECTIONS = ("", "万", "亿", "万亿")


def _four(n: int) -> str:
    out = ""
    zero = False
    for i in range(3, -1, -1):
        d = (n // 10**i) % 10
        if d == 0:
            zero = bool(out)
        else:
            if zero:
                out += "零"
                zero = False
            out += _DIGITS[d] + _UNITS[i]
    return out


def amount_in_words(fen: int) -> str:
    """Fen in the uppercase form contracts use: 5000000 -> 伍万元整."""
    yuan, cents = divmod(fen, 100)
    jiao, fen_ = divmod(cents, 10)
    parts: list[str] = []
    section = 0
    words = ""
    need_zero = False
    while yuan > 0:
        chunk = yuan % 10000
        if chunk:
            text = _four(chunk) + _SECTIONS[section]
            if need_zero:
                text += "零"
            words = text + words
            need_zero = chunk < 1000
        elif words:
            need_zero = True
        yuan //= 10000
        section += 1
    words = words.rstrip("零")
    if words:
        parts.append(words + "元")
    if jiao:
        parts.append(_DIGITS[jiao] + "角")
    elif words and fen_:
        parts.append("零")
    if fen_:
        parts.append(_DIGITS[fen_] + "分")
    if not jiao and not fen_:
        parts.append("整")
    return "".join(parts) or "零元整"

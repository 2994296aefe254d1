"""Shapes of the loyalty routes: what members see (points, tier, benefits) and what the
points writes take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel

from patron.loyalty.programme import TierBenefits

MAX_POINTS = 1_000_000_000
"""Points one request may move."""


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


NoNul = AfterValidator(_no_nul)
"""Text the database can store (PostgreSQL refuses NUL characters)."""

Key = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Your unique id of this operation: the same key again answers the first "
        "result and moves no points twice.",
    ),
    NoNul,
]
Reason = Annotated[str, Field(min_length=1, max_length=500), NoNul]
CustomerRef = Annotated[str, Field(min_length=1, max_length=128), NoNul]


class ProgrammeDocument(RootModel[dict[str, Any]]):
    """A programme as JSON: the fields of docs/loyalty.md; ``version`` is set by Patron."""


class LabelOut(BaseModel):
    en: str
    zh: str


class ExpiryOut(BaseModel):
    at: datetime
    points: int


class TierOut(BaseModel):
    code: str
    label: LabelOut
    since: datetime
    downgrade_at: datetime | None = Field(
        description="When a scheduled downgrade happens unless the member recovers."
    )


class NextTierOut(BaseModel):
    code: str
    label: LabelOut
    growth_needed: int
    progress: str = Field(description="Share of its threshold reached: a decimal from 0 to 1.")
    benefits: TierBenefits


class MemberOut(BaseModel):
    """A member as of now: points due for activation or expiry count as settled."""

    balance: int = Field(description="Points held: available + pending.")
    available: int = Field(description="Points the member can spend now.")
    pending: int = Field(description="Points inside their order's return window.")
    debt: int = Field(description="Points owed from refunds, taken from the next points.")
    next_expiry: ExpiryOut | None = Field(description="The soonest expiry and its points.")
    tier: TierOut
    growth: int = Field(description="Growth value (成长值) in the tier window.")
    benefits: TierBenefits
    next_tier: NextTierOut | None = Field(description="None at the top tier.")


class EntryOut(BaseModel):
    id: int
    kind: str = Field(description="earn, activate, redeem, expire, reverse or adjust.")
    points: int = Field(description="Change of the balance.")
    reason: str
    source: str
    created_at: datetime


class LedgerPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class ActionIn(BaseModel):
    """What the member did. ``ref`` identifies a review, a share or a task occurrence: the same
    ``ref`` is rewarded once."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["signin", "review", "share", "task", "birthday"]
    ref: Annotated[str, NoNul] | None = Field(default=None, max_length=120)
    task: Annotated[str, NoNul] | None = Field(
        default=None, max_length=32, description="The task's code (action task)."
    )
    text: Annotated[str, NoNul] = Field(
        default="", max_length=5000, description="The review's text."
    )
    has_photo: bool = Field(default=False, description="The review has a photo.")


class AwardOut(BaseModel):
    action: str
    rule_points: int = Field(description="What the programme's rule gives.")
    points: int = Field(description="What was granted, after the caps.")
    held: str | None = Field(
        description="Why fewer points than the rule: signed_in_today, day_count, yearly_cap…"
    )


class ActionOut(BaseModel):
    award: AwardOut
    entry: EntryOut | None = Field(description="The grant; null when nothing was granted.")
    member: MemberOut


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=1, le=MAX_POINTS)
    key: Key
    reason: Reason = "redeemed"


class AdjustIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(
        ge=-MAX_POINTS, le=MAX_POINTS, description="Positive to credit, negative to debit."
    )
    reason: Reason
    key: Key


class PointsOut(BaseModel):
    entry: EntryOut
    member: MemberOut


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referrer: CustomerRef = Field(description="Who referred (customer id).")
    referred: CustomerRef = Field(description="Who was referred.")


class ReferralOut(BaseModel):
    referrer: str
    referred: str
    created_at: datetime
    granted_at: datetime | None = Field(description="When both were granted their points.")


class CreditOut(BaseModel):
    order: str
    status: str
    earned: int = Field(description="Points granted by this call.")
    reversed: int = Field(description="Points taken back by this call.")
    member: MemberOut | None = Field(description="Null when the order earns nothing (pending).")

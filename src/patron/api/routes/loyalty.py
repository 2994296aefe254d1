"""The loyalty programme: its rules, members' points and tiers, and the points writes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from patron.access.guard import Recorded, Transaction
from patron.api.context import (
    Admin,
    IdempotencyKey,
    Reader,
    Writer,
    guarded,
    services,
)
from patron.api.loyalty_schemas import (
    ActionIn,
    ActionOut,
    AdjustIn,
    CreditOut,
    LedgerPage,
    MemberOut,
    NoNul,
    PointsOut,
    ProgrammeDocument,
    RedeemIn,
    ReferralIn,
    ReferralOut,
)
from patron.api.routes.customers import CustomerId
from patron.api.routes.orders import OrderId
from patron.api.schemas import ERRORS, Cursor, Limit, written
from patron.loyalty.actions import ActionInput
from patron.loyalty.earn import Action
from patron.loyalty.programme import Programme, to_dict
from patron.pagination import DEFAULT_LIMIT

router = APIRouter(tags=["loyalty"], responses=ERRORS)

MEMBER = "/loyalty/members/{customer_id}"
Member = Annotated[CustomerId, NoNul]
Order = Annotated[OrderId, NoNul]


def _answer(status: int, target: str, body: BaseModel) -> Recorded:
    return Recorded(status, body.model_dump(mode="json"), target)


# --- the programme ------------------------------------------------------------------------


@router.get(
    "/loyalty/programme", summary="The loyalty programme in force", response_model=Programme
)
def get_programme(request: Request, caller: Reader) -> Programme:
    return services(request).loyalty.programme(caller.shop_id)


@router.put(
    "/loyalty/programme",
    summary="Set the loyalty programme (admin)",
    description="The body is a programme document (docs/loyalty.md). A document that differs "
    "from the one in force becomes the next version; the same document answers the version "
    "in force. An invalid document answers 422 `config_invalid` naming the field "
    "(`details.field`, e.g. `tiers.levels[2].threshold`) and every problem "
    "(`details.errors`).",
    responses={200: {"model": Programme, "description": "The programme in force"}},
    response_model=None,
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Programme"}}}
        }
    },
)
def put_programme(
    request: Request,
    body: ProgrammeDocument,
    caller: Admin,
    key: IdempotencyKey = None,
) -> JSONResponse:
    loyalty = services(request).loyalty

    def write(connection: Transaction) -> Recorded:
        stored = loyalty.set_programme(caller.shop_id, body.root, transaction=connection)
        return Recorded(200, to_dict(stored), "programme")

    return guarded(request, body, key, write)


# --- members ------------------------------------------------------------------------------


@router.get(
    MEMBER,
    summary="A member's points, tier, benefits and progress to the next tier",
    response_model=MemberOut,
)
def get_member(request: Request, customer_id: Member, caller: Reader) -> dict[str, Any]:
    return services(request).loyalty.member(caller.shop_id, customer_id)


@router.get(
    f"{MEMBER}/ledger",
    summary="A member's points ledger, oldest first",
    response_model=LedgerPage,
)
def get_ledger(
    request: Request,
    customer_id: Member,
    caller: Reader,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    page = services(request).loyalty.history(caller.shop_id, customer_id, cursor, limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post(
    f"{MEMBER}/actions",
    summary="Reward a sign-in, review, share, task or birthday",
    description="201 when points were granted; 200 when none were (`award.held` says why) or "
    "when the same action was rewarded before (a second sign-in on one day, the same review "
    "`ref`).",
    responses=written(ActionOut),
    response_model=None,
)
def post_action(
    request: Request,
    customer_id: Member,
    body: ActionIn,
    caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    loyalty = services(request).loyalty
    action = ActionInput(Action(body.action), body.ref, body.task, body.text, body.has_photo)

    def write(connection: Transaction) -> Recorded:
        result = loyalty.earn_action(caller.shop_id, customer_id, action, transaction=connection)
        granted = result.entry is not None and not result.replayed
        answer = {"award": result.award, "entry": result.entry, "member": result.member}
        return _answer(
            201 if granted else 200, f"member:{customer_id}", ActionOut.model_validate(answer)
        )

    return guarded(request, body, key, write)


@router.post(
    f"{MEMBER}/redeem",
    summary="Spend a member's available points",
    description="Takes the soonest-expiring points first. Fewer available points answer 409 "
    "`points_insufficient` with `details.wanted` and `details.available`; the same `key` "
    "again answers the first redemption (200).",
    responses=written(PointsOut),
    response_model=None,
)
def post_redeem(
    request: Request,
    customer_id: Member,
    body: RedeemIn,
    caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    loyalty = services(request).loyalty

    def write(connection: Transaction) -> Recorded:
        done = loyalty.redeem(
            caller.shop_id,
            customer_id,
            body.points,
            body.key,
            body.reason,
            transaction=connection,
        )
        return _points(done.entry, done.member, done.replayed, customer_id)

    return guarded(request, body, key, write)


@router.post(
    f"{MEMBER}/adjust",
    summary="Correct a member's points by hand, with a reason (admin)",
    description="Positive points are a new lot; negative ones are taken from the member's "
    "points (409 `points_insufficient` beyond them). The API key is recorded as operator.",
    responses=written(PointsOut),
    response_model=None,
)
def post_adjust(
    request: Request,
    customer_id: Member,
    body: AdjustIn,
    caller: Admin,
    key: IdempotencyKey = None,
) -> JSONResponse:
    loyalty = services(request).loyalty
    operator = f"api-key:{caller.key_id}"

    def write(connection: Transaction) -> Recorded:
        done = loyalty.adjust(
            caller.shop_id,
            customer_id,
            body.points,
            body.reason,
            body.key,
            operator,
            transaction=connection,
        )
        return _points(done.entry, done.member, done.replayed, customer_id)

    return guarded(request, body, key, write)


def _points(
    entry: dict[str, Any] | None, member: dict[str, Any], replayed: bool, customer_id: str
) -> Recorded:
    body = PointsOut.model_validate({"entry": entry, "member": member})
    return _answer(200 if replayed else 201, f"member:{customer_id}", body)


# --- referrals and orders -----------------------------------------------------------------


@router.post(
    "/loyalty/referrals",
    summary="Record that a customer referred another",
    description="A customer is referred once: the same referral again answers as before, "
    "another referrer is refused (409). Both are granted their points once the referred "
    "customer's first order has passed its return window.",
    responses={200: {"model": ReferralOut, "description": "Recorded, or found as before"}},
    response_model=None,
)
def post_referral(
    request: Request,
    body: ReferralIn,
    caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    loyalty = services(request).loyalty

    def write(connection: Transaction) -> Recorded:
        referral = loyalty.refer(
            caller.shop_id, body.referrer, body.referred, transaction=connection
        )
        return _answer(200, f"referral:{body.referred}", ReferralOut.model_validate(referral))

    return guarded(request, body, key, write)


@router.post(
    "/loyalty/orders/{order_id}/credit",
    summary="Bring an order's points in line with the order as stored",
    description="Grants its points once paid, takes back the points of its refunds, all of "
    "them when cancelled, and moves the member's tier. Order writes of a shop with a "
    "programme do this on their own; call it to credit an order again.",
    responses={200: {"model": CreditOut, "description": "What this call changed"}},
    response_model=None,
)
def post_credit(
    request: Request,
    order_id: Order,
    caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    loyalty = services(request).loyalty

    def write(connection: Transaction) -> Recorded:
        credit = loyalty.credit_order(caller.shop_id, order_id, transaction=connection)
        answer = CreditOut.model_validate(credit, from_attributes=True)
        return _answer(200, f"order:{order_id}", answer)

    return guarded(request, None, key, write)

"""Behaviour events, in batches."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from patron.api.context import IdempotencyKey, Writer, respond, services, write_context
from patron.api.schemas import ERRORS, written
from patron.ingest.model import EventType
from patron.intake.model import EventInput
from patron.intake.rules import MAX_EVENTS

router = APIRouter(tags=["events"], responses=ERRORS)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The source's id; without one, a digest of the content is the key.",
    )
    type: EventType
    occurred_at: AwareDatetime
    customer_id: str | None = Field(default=None, min_length=1, max_length=128)
    sku: str | None = Field(default=None, min_length=1, max_length=128)
    session_id: str | None = Field(default=None, max_length=128)
    query: str | None = Field(default=None, max_length=500)


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class EventBatchOut(BaseModel):
    accepted: int = Field(description="Events stored by this batch.")
    duplicates: int = Field(description="Events already stored, or repeated in the batch.")


@router.post(
    "/events",
    summary="Record a batch of up to 1,000 behaviour events",
    responses=written(EventBatchOut),
    response_model=None,
)
def post_events(
    request: Request,
    body: EventBatchIn,
    _caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    ctx = write_context(request, body, key)
    assert ctx is not None
    events = [
        EventInput(
            type=x.type,
            occurred_at=x.occurred_at,
            event_id=x.event_id,
            customer_id=x.customer_id,
            sku=x.sku,
            session_id=x.session_id,
            query=x.query,
        )
        for x in body.events
    ]
    return respond(services(request).intake.record_events(ctx, events))

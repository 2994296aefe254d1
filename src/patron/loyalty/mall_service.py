"""The points mall's facade: rewards and their reservations, one transaction per call.

Each call reads the shop's programme and the customer (named by their external id) in its own
transaction and leaves the rest to :mod:`patron.loyalty.mall_store`, which holds the lock order
and the idempotency rules. Answers are JSON-ready dicts; a reservation's answer carries
``replayed`` (true when the key's operation was done before and nothing changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from patron.clock import Clock
from patron.db.engine import reader
from patron.loyalty import mall_store
from patron.loyalty.mall import detail_dict, parse_reward, reward_dict
from patron.loyalty.mall_store import Answer
from patron.loyalty.service import LoyaltyService


class MallService:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._loyalty = LoyaltyService(engine, clock)

    def put_reward(self, shop_id: int, definition: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace the reward ``definition["code"]`` (see
        :func:`patron.loyalty.mall.parse_reward`); its ``stock`` is the units free from now on."""
        with self.engine.begin() as connection:
            programme = self._loyalty.programme_in(connection, shop_id)
            tiers = [level.code for level in programme.tiers.levels]
            reward = parse_reward(definition, tiers)
            return reward_dict(mall_store.put_reward(connection, shop_id, reward))

    def rewards(self, shop_id: int, customer: str | None = None) -> list[dict[str, Any]]:
        """Every reward of the shop; or, for a customer, those they see now, each with
        ``refusal``: why they could not reserve one more unit (``None``: they can)."""
        with reader(self.engine).connect() as connection:
            if customer is None:
                return [reward_dict(each) for each in mall_store.rewards(connection, shop_id)]
            programme = self._loyalty.programme_in(connection, shop_id)
            customer_id = self._loyalty.customer_id(connection, shop_id, customer)
            offers = mall_store.offers(
                connection, shop_id, programme, customer_id, self.clock.now()
            )
        return [
            {**reward_dict(reward), "refusal": refused.to_dict() if refused else None}
            for reward, refused in offers
        ]

    def reserve(
        self,
        shop_id: int,
        customer: str,
        reward_code: str,
        quantity: int,
        key: str,
        ttl_seconds: int = 900,
    ) -> dict[str, Any]:
        """Reserve units of a reward: points spent and units taken until confirmed, cancelled
        or ``ttl_seconds`` have passed (:func:`patron.loyalty.mall_store.reserve`)."""
        now = self.clock.now()

        def attempt() -> Answer:
            with self.engine.begin() as connection:
                programme = self._loyalty.programme_in(connection, shop_id)
                customer_id = self._loyalty.customer_id(connection, shop_id, customer)
                return mall_store.reserve(
                    connection,
                    shop_id,
                    programme,
                    customer_id,
                    reward_code,
                    quantity,
                    key,
                    now,
                    ttl_seconds,
                )

        try:
            return answer_dict(attempt())
        except IntegrityError:
            # Another member's reservation took the same key at the same moment (their
            # entries' unique key refused ours): run again to answer as for a reused key.
            return answer_dict(attempt())

    def confirm(self, shop_id: int, key: str) -> dict[str, Any]:
        """Keep the reservation of ``key`` for good; again answers the same."""
        with self.engine.begin() as connection:
            return answer_dict(mall_store.confirm(connection, shop_id, key, self.clock.now()))

    def cancel(self, shop_id: int, key: str) -> dict[str, Any]:
        """Release the reservation of ``key``: points and units back; again answers the same."""
        with self.engine.begin() as connection:
            programme = self._loyalty.programme_in(connection, shop_id)
            answer = mall_store.cancel(connection, shop_id, programme, key, self.clock.now())
            return answer_dict(answer)

    def expire_due(self, shop_id: int) -> int:
        """Expire every reservation past its time, one short transaction per batch; returns
        how many expired."""
        now = self.clock.now()
        total = 0
        while True:
            with self.engine.begin() as connection:
                programme = self._loyalty.programme_in(connection, shop_id)
                expired = mall_store.expire_due(connection, shop_id, programme, now)
            if expired == 0:
                return total
            total += expired


def answer_dict(answer: Answer) -> dict[str, Any]:
    reservation = answer.reservation
    reward = reservation.reward
    return {
        "key": reservation.key,
        "reward": reward.code,
        "kind": str(reward.kind),
        "title": {"en": reward.title_en, "zh": reward.title_zh},
        "detail": detail_dict(reward.detail),
        "quantity": reservation.quantity,
        "points": reservation.points,
        "discount_minor": reservation.discount_minor,
        "state": str(reservation.state),
        "created_at": reservation.created_at.isoformat(),
        "expires_at": reservation.expires_at.isoformat(),
        "closed_at": reservation.closed_at.isoformat() if reservation.closed_at else None,
        "replayed": answer.replayed,
    }

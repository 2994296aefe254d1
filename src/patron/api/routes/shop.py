"""The caller's own shop."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from patron.api.context import Reader
from patron.api.schemas import ERRORS

router = APIRouter(tags=["shop"], responses=ERRORS)


class ShopOut(BaseModel):
    name: str
    scopes: list[str]


@router.get("/shop", summary="The shop this API key acts in, and the key's scopes")
def get_shop(caller: Reader) -> ShopOut:
    return ShopOut(name=caller.shop, scopes=sorted(s.value for s in caller.scopes))

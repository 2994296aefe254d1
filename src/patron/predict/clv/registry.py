"""The models by name, as the CLI and model files name them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from patron.errors import InputError
from patron.predict.clv.base import Model, read_document
from patron.predict.clv.bgnbd import BGNBD
from patron.predict.clv.gamma_gamma import GammaGamma
from patron.predict.clv.mbgnbd import MBGNBD
from patron.predict.clv.pareto_nbd import ParetoNBD
from patron.predict.clv.purchases import PurchaseModel

PURCHASE_MODELS: dict[str, type[PurchaseModel[Any]]] = {
    model.name: model for model in (BGNBD, ParetoNBD, MBGNBD)
}
MODELS: dict[str, type[Model[Any]]] = {**PURCHASE_MODELS, GammaGamma.name: GammaGamma}


def purchase_model(name: str, **thresholds: int) -> PurchaseModel[Any]:
    """A new, unfitted purchase model; ``thresholds`` are min_customers / min_repeat_buyers."""
    if name not in PURCHASE_MODELS:
        raise InputError(
            f"unknown model {name!r}; expected one of {', '.join(PURCHASE_MODELS)}", field="model"
        )
    return PURCHASE_MODELS[name](**thresholds)


def load_model(path: Path) -> Model[Any]:
    """Any fitted model from its JSON file, by the model name the file records."""
    document = read_document(path)
    name = document.get("model")
    if name not in MODELS:
        raise InputError(
            f"{path}: model {name!r} is not one of {', '.join(MODELS)}",
            field="model",
            file=str(path),
        )
    return MODELS[name].from_json(document)

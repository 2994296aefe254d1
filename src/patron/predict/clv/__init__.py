"""Buy-till-you-die customer models on numpy/scipy: purchases (BG/NBD, MBG/NBD, Pareto/NBD),
spend (Gamma-Gamma), customer lifetime value, and model comparison. Each fits a customer
summary (frequency, recency, T; monetary_value for spend) by maximum likelihood."""

from patron.predict.clv.bgnbd import BGNBD, BGNBDParams
from patron.predict.clv.compare import Comparison, HoldoutErrors, compare, holdout_errors
from patron.predict.clv.gamma_gamma import GammaGamma, GammaGammaParams
from patron.predict.clv.mbgnbd import MBGNBD, MBGNBDParams
from patron.predict.clv.pareto_nbd import ParetoNBD, ParetoNBDParams
from patron.predict.clv.purchases import PurchaseModel
from patron.predict.clv.registry import MODELS, PURCHASE_MODELS, load_model, purchase_model
from patron.predict.clv.value import customer_predictions, customer_value

__all__ = [
    "BGNBD",
    "MBGNBD",
    "MODELS",
    "PURCHASE_MODELS",
    "BGNBDParams",
    "Comparison",
    "GammaGamma",
    "GammaGammaParams",
    "HoldoutErrors",
    "MBGNBDParams",
    "ParetoNBD",
    "ParetoNBDParams",
    "PurchaseModel",
    "compare",
    "customer_predictions",
    "customer_value",
    "holdout_errors",
    "load_model",
    "purchase_model",
]

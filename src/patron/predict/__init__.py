"""Predictions about customers: buy-till-you-die purchase and spend models (``clv``), and the
calibration/holdout summaries and evaluation that check them against what customers did next."""

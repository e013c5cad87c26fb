"""Regression metrics in one place: every caller (train, evaluate, publish, report, monitor) uses these.

numpy only, rather than sklearn.metrics: importing sklearn.metrics pulls in much of scikit-learn
and scipy, many times this module's start-up, and `evaluate` would pay it on every run (the stages'
start-up times: docs/performance.md#training).
Errors are predicted minus actual.
"""

from typing import Any

import numpy as np


def rmse(actual: Any, predicted: Any) -> float:
    error = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return float(np.sqrt(np.mean(error**2)))


def mae(actual: Any, predicted: Any) -> float:
    return float(np.mean(np.abs(np.asarray(predicted, np.float64) - np.asarray(actual, np.float64))))


def mean_error(actual: Any, predicted: Any) -> float:
    """Bias: positive when the model predicts longer trips than they were."""
    return float(np.mean(np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)))


def r2(actual: Any, predicted: Any) -> float:
    """Coefficient of determination; 0.0 when every actual value is the same."""
    actual = np.asarray(actual, np.float64)
    total = np.sum((actual - actual.mean()) ** 2)
    residual = np.sum((np.asarray(predicted, np.float64) - actual) ** 2)
    return float(1 - residual / total) if total > 0 else 0.0


def scores(actual: Any, predicted: Any, digits: int = 4) -> dict[str, float]:
    """rmse, mae, r2 and mean error, rounded for reading and diffing."""
    found = {
        "rmse": rmse(actual, predicted),
        "mae": mae(actual, predicted),
        "r2": r2(actual, predicted),
        "mean_error": mean_error(actual, predicted),
    }
    return {name: round(value, digits) for name, value in found.items()}

"""A numpy scorer for the linear models: `model.predict`'s numbers without scikit-learn's per-call cost.

The service scores a few trips per call; scikit-learn's Pipeline spends milliseconds per call on a
frame and the ColumnTransformer's checks, however few the trips. For the default model and the
linear, ridge and lasso configurations, each trip's minutes are the intercept plus, per categorical
feature, the coefficient of its category, plus coefficient times value per numeric feature: a few
numpy lookups, so the service answers several times as many single-trip requests (`python -m
bench.serve`; numbers: docs/performance.md#serving-performance). The service uses a scorer only after
it has given exactly `model.predict`'s answers on check trips (trip_duration_ops.service.deployment).
"""

from collections.abc import Callable, Mapping
from typing import Any, SupportsFloat, cast

import numpy as np
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from trip_duration.features import DERIVE
from trip_duration.linear import GramRidge

Scorer = Callable[[Mapping[str, np.ndarray]], np.ndarray]
LINEAR = (LinearRegression, Ridge, Lasso, ElasticNet, GramRidge)  # predict: sparse X @ coef_ + intercept_


def linear_scorer(model: Any) -> Scorer | None:
    """A fitted linear model over one-hot codes and imputed numbers as numpy lookups, else None.

    The default model and the linear, ridge and lasso configurations are such a model: each trip's
    minutes are the intercept plus, per categorical feature, the coefficient of its category (none for
    a category unseen in training), plus coefficient times value per numeric feature. The scorer
    takes raw trip columns (numpy arrays by name, missing values NaN or NaT, as in a frame) and
    adds the terms in scikit-learn's own order (the sparse row's columns, then the intercept), so
    it gives `model.predict`'s floats without its per-call cost (a frame, the ColumnTransformer's
    checks: milliseconds however few the trips). None for any other model: predict it as it is.
    """
    if not (isinstance(model, Pipeline) and len(model.steps) == 2 and isinstance(model[-1], LINEAR)):
        return None
    features, regressor = model[0], model[-1]
    coef = np.asarray(getattr(regressor, "coef_", None), dtype=np.float64)
    intercept = getattr(regressor, "intercept_", None)
    if not isinstance(features, ColumnTransformer) or coef.ndim != 1 or not np.isscalar(intercept):
        return None
    if not getattr(features, "sparse_output_", False):  # a dense product sums in BLAS's order
        return None
    terms: list[Callable[[Mapping[str, np.ndarray]], np.ndarray]] = []
    for name, transformer, columns in features.transformers_:
        if (
            transformer == "drop"
            or features.output_indices_[name].stop == features.output_indices_[name].start
        ):
            continue
        block = features.output_indices_[name]
        term = _onehot_term(transformer, coef[block]) or _imputed_term(transformer, columns, coef[block])
        if term is None:
            return None
        terms.append(term)
    if not terms or sum(s.stop - s.start for s in features.output_indices_.values()) != coef.size:
        return None
    intercept = float(cast(SupportsFloat, intercept))  # np.isscalar passes str too; sklearn's is a number

    def score(trips: Mapping[str, np.ndarray]) -> np.ndarray:
        total = terms[0](trips)
        for term in terms[1:]:
            total = total + term(trips)
        return total + intercept

    return score


def _onehot_term(
    transformer: Any, coef: np.ndarray
) -> Callable[[Mapping[str, np.ndarray]], np.ndarray] | None:
    """FunctionTransformer(a trip_duration.features function) -> OneHotEncoder(handle_unknown="ignore")."""
    if not (isinstance(transformer, Pipeline) and len(transformer.steps) == 2):
        return None
    derive, encoder = transformer[0], transformer[-1]
    if not (
        isinstance(derive, FunctionTransformer)
        and derive.func in DERIVE.values()
        and not derive.kw_args
        and isinstance(encoder, OneHotEncoder)
        and encoder.handle_unknown == "ignore"
        and encoder.drop_idx_ is None
        and encoder.min_frequency is None
        and encoder.max_categories is None
        and len(encoder.categories_) == 1
        and len(encoder.categories_[0]) == coef.size
    ):
        return None
    func, categories = derive.func, np.asarray(encoder.categories_[0])
    if categories.dtype.kind not in "iu" or np.any(categories[1:] <= categories[:-1]):
        return None
    # Unseen categories weigh nothing, as their all-zero one-hot row does.
    weights = np.append(coef, 0.0)

    def term(trips: Mapping[str, np.ndarray]) -> np.ndarray:
        codes = func(trips)[:, 0]
        index = np.searchsorted(categories, codes)
        seen = index < categories.size
        seen[seen] = categories[index[seen]] == codes[seen]
        return weights[np.where(seen, index, categories.size)]

    return term


def _imputed_term(
    transformer: Any, columns: Any, coef: np.ndarray
) -> Callable[[Mapping[str, np.ndarray]], np.ndarray] | None:
    """SimpleImputer over one numeric column (alone, or then made a CSR column, as for one-hot
    features): the value, or the fitted statistic where it is missing."""
    if (
        isinstance(transformer, Pipeline)
        and len(transformer.steps) == 2
        and isinstance(transformer[-1], FunctionTransformer)
        and transformer[-1].func is sp.csr_matrix
    ):
        transformer = transformer[0]
    if not (
        isinstance(transformer, SimpleImputer)
        and not transformer.add_indicator
        and len(columns) == 1
        and coef.size == 1
        and np.isfinite(transformer.statistics_).all()
        and isinstance(transformer.missing_values, float)
        and np.isnan(transformer.missing_values)
    ):
        return None
    column, fill, weight = columns[0], float(transformer.statistics_[0]), float(coef[0])

    def term(trips: Mapping[str, np.ndarray]) -> np.ndarray:
        values = np.asarray(trips[column], dtype=np.float64)
        return np.where(np.isnan(values), fill, values) * weight

    return term

"""Ridge regression solved exactly from the Gram matrix, which it accumulates batch by batch.

    GramRidge(alpha=0.1, fit_intercept=True)

A linear model needs the data only through X^T X, X^T y, the column sums and the row count. With
one-hot features X^T X is a features x features matrix with a few entries per feature, whatever
the number of rows, so `partial_fit` adds each batch's share of it and the fit holds one batch at
a time: a window of any length trains in the memory of its largest batch, and gives the model that
`fit` on all rows at once gives. The solve is direct (a sparse LU of X^T X + alpha I, with the
centring for the intercept as a rank-one correction), so the coefficients are the exact minimiser
of the ridge objective, as scikit-learn's Ridge states it (the intercept unpenalised).

scikit-learn's own sparse solvers stop at a tolerance instead, and on these features, where the
trip distance has absurd outliers and rare zone pairs have one trip, they stop far from the
minimiser: Ridge(alpha=0.1) and LinearRegression (LSQR) land where their tolerance leaves them.
That is why this is a regressor of its own, picked by config, and not a faster LinearRegression.
"""

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class GramRidge(RegressorMixin, BaseEstimator):
    """Ridge regression (alpha > 0) solved exactly from accumulated sufficient statistics."""

    def __init__(self, alpha: float = 0.1, fit_intercept: bool = True) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "n_samples_seen_", 0) > 0

    def fit(self, X: Any, y: Any) -> "GramRidge":
        for name in ("gram_", "n_samples_seen_", "coef_", "intercept_"):
            self.__dict__.pop(name, None)
        return self.partial_fit(X, y).solve()

    def partial_fit(self, X: Any, y: Any) -> "GramRidge":
        """Add a batch of rows to the statistics; `solve` (or the first prediction) refits."""
        first = not self.__sklearn_is_fitted__()
        if not (isinstance(self.alpha, int | float) and self.alpha > 0):
            raise ValueError(f"GramRidge alpha must be a number > 0, got {self.alpha!r}")
        X, y = validate_data(self, X, y, accept_sparse="csr", y_numeric=True, reset=first)
        y = np.asarray(y, dtype=np.float64)
        X = sp.csr_matrix(X, dtype=np.float64)
        gram = (X.T @ X).tocsc()
        if first:
            self.gram_ = gram
            self.xty_ = np.zeros(X.shape[1])
            self.x_sum_ = np.zeros(X.shape[1])
            self.y_sum_ = self.yy_sum_ = 0.0
            self.n_samples_seen_ = 0
        else:
            self.gram_ = self.gram_ + gram
        self.xty_ += X.T @ y
        self.x_sum_ += np.asarray(X.sum(axis=0)).ravel()
        self.y_sum_ += float(y.sum())
        self.yy_sum_ += float(y @ y)
        self.n_samples_seen_ += X.shape[0]
        self.__dict__.pop("coef_", None)
        return self

    def merge(self, other: "GramRidge") -> "GramRidge":
        """Add the statistics `other` accumulated (on other rows, the same features) to these."""
        if not other.__sklearn_is_fitted__():
            return self
        if not self.__sklearn_is_fitted__():
            for name in ("n_features_in_", "gram_", "xty_", "x_sum_", "y_sum_", "yy_sum_", "n_samples_seen_"):
                value = getattr(other, name)
                setattr(self, name, value.copy() if hasattr(value, "copy") else value)
            return self
        if other.n_features_in_ != self.n_features_in_:
            raise ValueError(f"GramRidge.merge: {other.n_features_in_} features, not {self.n_features_in_}")
        self.gram_ = self.gram_ + other.gram_
        self.xty_ += other.xty_
        self.x_sum_ += other.x_sum_
        self.y_sum_ += other.y_sum_
        self.yy_sum_ += other.yy_sum_
        self.n_samples_seen_ += other.n_samples_seen_
        self.__dict__.pop("coef_", None)
        return self

    def solve(self) -> "GramRidge":
        """Coefficients and intercept from the statistics seen so far; the training RMSE beside."""
        check_is_fitted(self)
        n, features = self.n_samples_seen_, self.gram_.shape[0]
        x_mean = self.x_sum_ / n if self.fit_intercept else np.zeros(features)
        y_mean = self.y_sum_ / n if self.fit_intercept else 0.0
        # Centred: (G - n m m^T + alpha I) w = X^T y - n y_mean m, by Sherman-Morrison on the LU.
        lu = splu((self.gram_ + self.alpha * sp.identity(features, format="csc")).tocsc())
        rhs = self.xty_ - n * y_mean * x_mean
        base = lu.solve(rhs)
        if self.fit_intercept:
            towards = lu.solve(x_mean)
            base += towards * (n * (x_mean @ base) / (1 - n * (x_mean @ towards)))
        self.coef_ = base
        self.intercept_ = float(y_mean - x_mean @ base)
        # Residual sum of squares from the same statistics: y'y - 2 b'X'y + b'X'X b (b with intercept).
        fitted = self.gram_ @ base + self.intercept_ * self.x_sum_
        rss = (
            self.yy_sum_
            - 2 * (base @ self.xty_ + self.intercept_ * self.y_sum_)
            + base @ fitted
            + self.intercept_ * (self.x_sum_ @ base + n * self.intercept_)
        )
        self.train_rmse_ = float(np.sqrt(max(rss, 0.0) / n))
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        if "coef_" not in self.__dict__:
            self.solve()
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

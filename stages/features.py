"""The model's encoder: raw trip columns in, a feature matrix out, built directly.

It is the first step of the published model, so it handles whatever a caller sends at
prediction time: zones never seen in training become all-zero one-hot rows (as the course's
DictVectorizer does), missing distances take the training median.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from stages.vocabulary import check_features, derive, fit_vocabulary

if TYPE_CHECKING:
    from sklearn.preprocessing import TargetEncoder


class TripEncoder(TransformerMixin, BaseEstimator):
    """One-hot (sparse CSR) or target-encoded (dense) features from raw trip columns.

    `vocabulary` (categories and medians, as stages.vocabulary.fit_vocabulary returns) fixes
    what fit would otherwise learn from the training trips.
    """

    def __init__(
        self,
        categorical: Sequence[str] = ("zone_pair",),
        numeric: Sequence[str] = ("trip_distance",),
        encoding: str = "onehot",
        vocabulary: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.encoding = encoding
        self.vocabulary = vocabulary
        self.seed = seed

    def _learn(self, trips: Any) -> dict[str, np.ndarray]:
        check_features(self.categorical, self.numeric, self.encoding)
        derived = derive(trips, [*self.categorical, *self.numeric])
        vocabulary = self.vocabulary or fit_vocabulary(derived, self.categorical, self.numeric)
        self.categories_ = {f: np.asarray(vocabulary["categories"][f], np.int32) for f in self.categorical}
        self.medians_ = {f: float(vocabulary["medians"][f]) for f in self.numeric}
        # code -> column, one table per categorical feature; -1 for codes never seen in training
        if not all(len(codes) for codes in self.categories_.values()):
            raise ValueError("a categorical feature has no category in the training trips")
        self.lookups_, offset = {}, 0
        for feature, codes in self.categories_.items():
            table = np.full(int(codes.max()) + 1, -1, np.int32)
            table[codes] = offset + np.arange(len(codes), dtype=np.int32)
            self.lookups_[feature], offset = table, offset + len(codes)
        width = offset if self.encoding == "onehot" else len(self.categorical)
        self.n_features_out_ = width + len(self.numeric)
        return derived

    def _numbers(self, derived: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.where(np.isnan(derived[f]), self.medians_[f], derived[f]) for f in self.numeric]

    def _onehot(self, derived: dict[str, np.ndarray]) -> sp.csr_matrix:
        # Every row gets one entry per feature, so the CSR layout is regular and built in place.
        # An unseen category becomes an explicit 0.0 in its feature's first column: the same
        # product as no entry at all, without a ragged layout to build.
        n = len(next(iter(derived.values())))
        width = len(self.categorical) + len(self.numeric)
        indices, data = np.empty((n, width), np.int32), np.empty((n, width), np.float64)
        offset = 0
        for j, feature in enumerate(self.categorical):
            code, table = derived[feature], self.lookups_[feature]
            column = table[np.clip(code, 0, len(table) - 1)]
            known = (code >= 0) & (code < len(table)) & (column >= 0)
            indices[:, j] = np.where(known, column, offset)
            data[:, j] = known
            offset += len(self.categories_[feature])
        for j, values in enumerate(self._numbers(derived), start=len(self.categorical)):
            indices[:, j] = offset + j - len(self.categorical)
            data[:, j] = values
        indptr = np.arange(0, n * width + 1, width, dtype=np.int64)
        return sp.csr_matrix((data.ravel(), indices.ravel(), indptr), shape=(n, self.n_features_out_))

    def _codes(self, derived: dict[str, np.ndarray]) -> np.ndarray:
        return np.column_stack([derived[f] for f in self.categorical])

    def _target_encoder(self) -> "TargetEncoder":
        # Imported here: only tree models use it, and the import costs start-up time.
        from sklearn.model_selection import KFold
        from sklearn.preprocessing import TargetEncoder

        folds = KFold(n_splits=5, shuffle=True, random_state=self.seed)
        categories = [self.categories_[f] for f in self.categorical]
        return TargetEncoder(categories=categories, target_type="continuous", cv=folds)

    def fit(self, trips: Any, y: Any = None) -> "TripEncoder":
        derived = self._learn(trips)
        if self.encoding == "target" and self.categorical:
            self.target_encoder_ = self._target_encoder().fit(self._codes(derived), np.asarray(y, np.float64))
        return self

    def fit_transform(self, trips: Any, y: Any = None, **fit_params: Any) -> Any:
        derived = self._learn(trips)
        if self.encoding == "onehot":
            return self._onehot(derived)
        if not self.categorical:
            return np.column_stack(self._numbers(derived))
        # fit_transform cross-fits: a trip's own duration never encodes its categories.
        self.target_encoder_ = self._target_encoder()
        encoded = self.target_encoder_.fit_transform(self._codes(derived), np.asarray(y, np.float64))
        return np.column_stack([encoded, *self._numbers(derived)])

    def transform(self, trips: Any) -> Any:
        derived = derive(trips, [*self.categorical, *self.numeric])
        if self.encoding == "onehot":
            return self._onehot(derived)
        encoded = [self.target_encoder_.transform(self._codes(derived))] if self.categorical else []
        return np.column_stack([*encoded, *self._numbers(derived)])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        if self.encoding == "onehot":
            names = [f"{f}={code}" for f, codes in self.categories_.items() for code in codes]
        else:
            names = list(self.categorical)
        return np.asarray([*names, *self.numeric], dtype=object)

"""Linear solvers on one project's features: what an exact solve gives against scikit-learn's own.

    python -m bench.solvers PROJECT [--alpha 0.1]

Encodes the project's prepared training and validation trips once (its `features`), then fits:
LinearRegression (LSQR stopped at its tolerance: the course's model), Ridge with scikit-learn's
default solver for sparse input, GramRidge (exact ridge from the Gram matrix) with the same
alpha, and GramRidge with alpha 1e-6 (as near the exact least-squares minimiser as the one-hot
columns, collinear with the intercept, allow). Prints a markdown table: training and validation
RMSE and fit seconds for each.
"""

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LinearRegression, Ridge

from trip_duration import metrics
from trip_duration.linear import GramRidge
from trip_duration.model import make_features
from trip_duration.params import read_section


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--alpha", type=float, default=0.1)
    args = parser.parse_args(argv)
    features = make_features(
        **read_section(args.project / "params.yaml", "features").model_dump(exclude={"name"})
    )
    train = pd.read_parquet(args.project / "prepared" / "train.parquet")
    val = pd.read_parquet(args.project / "prepared" / "val.parquet")
    matrix = features.fit_transform(train, train["duration"])
    val_matrix = features.transform(val)
    regressors = {
        "LinearRegression (LSQR, tol 1e-6)": LinearRegression(),
        f"Ridge(alpha={args.alpha:g}), default solver": Ridge(alpha=args.alpha),
        f"GramRidge(alpha={args.alpha:g}), exact": GramRidge(alpha=args.alpha),
        "GramRidge(alpha=1e-6), about the least-squares minimiser": GramRidge(alpha=1e-6),
    }
    print(f"{len(train):,} training trips x {matrix.shape[1]:,} features, {len(val):,} validation trips\n")
    print("| regressor | train RMSE | val RMSE | fit s |\n|---|---:|---:|---:|")
    for name, regressor in regressors.items():
        start = time.perf_counter()
        regressor.fit(matrix, train["duration"].to_numpy())
        seconds = time.perf_counter() - start
        fitted = metrics.rmse(train["duration"], regressor.predict(matrix))
        rmse = metrics.rmse(val["duration"], regressor.predict(val_matrix))
        print(f"| {name} | {fitted:.4f} | {rmse:.4f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()

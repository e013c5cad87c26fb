"""Stage `featurize`: fit the feature encoders on the training trips and encode them.

    python -m stages.featurize --train prepared/train.parquet \
        --featurizer features/featurizer.joblib --matrix features/train
"""

import argparse

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from stages.atomic import atomic_path
from stages.errors import InputError, run
from stages.features import make_featurizer
from stages.matrix import save_matrix
from stages.section import check_keys, read_section


def featurize(
    train: pd.DataFrame, name: str, categorical: list[str], numeric: list[str], encoding: str, seed: int
) -> tuple[Pipeline, object, list[str]]:
    """Fit the featurizer on training trips only; return it, the training matrix and column names."""
    del name  # names the configuration in params.yaml and `dvc exp show` only
    featurizer = make_featurizer(categorical, numeric, encoding, seed)
    # fit_transform, not fit().transform(): target encoding cross-fits on the training rows.
    matrix = featurizer.fit_transform(train, train["duration"])
    return featurizer, matrix, [str(c) for c in featurizer.get_feature_names_out()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="input: prepared training trips")
    parser.add_argument("--featurizer", required=True, help="output: fitted featurizer (joblib)")
    parser.add_argument("--matrix", required=True, help="output: folder for the training matrix")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    section = read_section(args.params, "features")
    check_keys(featurize, {"train": None, **section}, "features", args.params)
    train = pd.read_parquet(args.train)
    try:
        featurizer, matrix, columns = featurize(train, **section)
    except ValueError as error:
        raise InputError(args.params, f"features: {error}") from error
    save_matrix(args.matrix, matrix, columns)
    with atomic_path(args.featurizer) as tmp:
        joblib.dump(featurizer, tmp)
    print(f"featurize: {matrix.shape[0]:,} rows x {matrix.shape[1]:,} features")


if __name__ == "__main__":
    run(main)

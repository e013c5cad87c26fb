"""Stage `featurize`: fit the feature vocabulary on the training trips only.

    python -m stages.featurize --train prepared/train.parquet --vocabulary features/vocabulary.json

The vocabulary (the categories each feature takes in training, the medians that fill missing
numbers) is a small JSON file: the encoder in the model is built from it, and a diff of it in
a pull request shows which zone pairs a data change brought in. This stage needs neither
pandas nor scikit-learn, so it starts in a fraction of a second.
"""

import argparse
import json

import pyarrow.parquet as pq

from stages.atomic import atomic_path
from stages.errors import InputError, run
from stages.section import check_keys, read_section
from stages.trips import to_numpy
from stages.vocabulary import check_features, derive, fit_vocabulary, raw_columns


def featurize(
    trips: dict, name: str, categorical: list[str], numeric: list[str], encoding: str, seed: int
) -> dict:
    """The encoder's description: the feature params plus the vocabulary fitted on `trips`."""
    check_features(categorical, numeric, encoding)
    derived = derive(trips, [*categorical, *numeric])
    return {
        "name": name,
        "categorical": list(categorical),
        "numeric": list(numeric),
        "encoding": encoding,
        "seed": seed,
        **fit_vocabulary(derived, categorical, numeric),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="input: prepared training trips")
    parser.add_argument("--vocabulary", required=True, help="output: the encoder's vocabulary (JSON)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    section = read_section(args.params, "features")
    check_keys(featurize, {"trips": None, **section}, "features", args.params)
    try:
        check_features(section["categorical"], section["numeric"], section["encoding"])
    except ValueError as error:
        raise InputError(args.params, f"features: {error}") from error
    columns = raw_columns([*section["categorical"], *section["numeric"]])
    table = pq.ParquetFile(args.train).read(columns=columns)
    trips = {column: to_numpy(table[column]) for column in columns}
    spec = featurize(trips, **section)
    with atomic_path(args.vocabulary) as tmp:
        tmp.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    counts = ", ".join(f"{len(codes):,} {feature}" for feature, codes in spec["categories"].items())
    print(f"featurize: {table.num_rows:,} training trips; {counts or 'no categories'}")


if __name__ == "__main__":
    run(main)

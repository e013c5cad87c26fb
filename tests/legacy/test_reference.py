"""The course's reference result, reproduced by the default configuration on the real months."""

from pathlib import Path

import numpy as np
import yaml
from conftest import ROOT

from stages.featurize import featurize
from stages.prepare import prepare_windows
from stages.train import make_encoder, make_regressor, train


def test_default_configuration_gives_the_course_rmse(mirror: Path) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert params["data"]["train_months"] == ["2021-01"] and params["data"]["val_months"] == ["2021-02"]
    train_table, val_table = prepare_windows(mirror, **params["data"])
    train_trips, val_trips = train_table.to_pandas(), val_table.to_pandas()
    spec = featurize({c: train_trips[c].to_numpy() for c in train_trips}, **params["features"])
    model, scores = train(train_trips, make_encoder(spec), make_regressor(**params["model"]))
    rmse = np.sqrt(np.mean((model.predict(val_trips) - val_trips["duration"].to_numpy()) ** 2))
    assert (len(train_trips), len(val_trips), scores["features"]) == (73_908, 61_921, 13_221)
    assert abs(rmse - 7.7587) <= 0.0005

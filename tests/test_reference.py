"""The course's reference result, reproduced by the default configuration on the real months."""

from pathlib import Path

import yaml
from conftest import ROOT
from sklearn.metrics import root_mean_squared_error

from stages.featurize import featurize
from stages.prepare import prepare_windows
from stages.train import make_regressor, train


def test_default_configuration_gives_the_course_rmse(mirror: Path) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert params["data"]["train_months"] == ["2021-01"] and params["data"]["val_months"] == ["2021-02"]
    train_trips, val_trips = prepare_windows(mirror, **params["data"])
    featurizer, matrix, _ = featurize(train_trips, **params["features"])
    model = train(featurizer, matrix, train_trips["duration"], make_regressor(**params["model"]))
    rmse = root_mean_squared_error(val_trips["duration"], model.predict(val_trips))
    assert (len(train_trips), len(val_trips), matrix.shape[1]) == (73_908, 61_921, 13_221)
    assert abs(rmse - 7.7587) <= 0.0005

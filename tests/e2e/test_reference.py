"""The course's reference result, reproduced in-process by the default configuration on the real months."""

from pathlib import Path

import yaml
from conftest import ROOT

from trip_duration import metrics
from trip_duration.model import build_model, fit, input_columns
from trip_duration.trips import cleaning, read_window


def test_default_configuration_gives_the_course_rmse(mirror: Path) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert (params["data"]["train_months"], params["data"]["val_months"]) == (["2021-01"], ["2021-02"])
    data, rules = params["data"], cleaning(params["data"])
    train_table = read_window(mirror, data["taxi"], data["train_months"], **rules)
    val_table = read_window(mirror, data["taxi"], data["val_months"], **rules)
    train_trips, val_trips = train_table.to_pandas(), val_table.to_pandas()
    model = build_model(params["features"], params["model"])
    columns = input_columns(params["features"])
    scores = fit(model, train_trips[columns], train_trips["duration"].to_numpy())
    rmse = metrics.rmse(val_trips["duration"], model.predict(val_trips[columns]))
    assert (len(train_trips), len(val_trips), scores["features"]) == (73_908, 61_921, 13_221)
    assert abs(rmse - 7.7587) <= 0.0005

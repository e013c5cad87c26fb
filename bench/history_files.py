"""What each commit of a synthetic history holds: params, dvc.lock, metrics, plots, data.dvc and
monitoring records, from seeded plausible numbers. Pure functions; bench.history commits them."""

import copy
import functools
import hashlib
import json
import random
from typing import Any

import yaml

from trip_duration import drift, monitoring
from trip_duration_ops.retrain import decide as retrain_decision

# How far each choice moves the validation RMSE from the window's own level, in minutes.
MODEL_EFFECT = {"linear": 0.0, "ridge": -0.15, "gram_ridge": -0.3, "lasso": 1.4}
FEATURES_EFFECT = {"course": 0.0, "time": -0.25, "zones": 0.6}
ALPHAS = [0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
SCALED = ("rmse", "rmse_threshold")  # the error columns of the plots and the backtest


def md5(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


def random_md5(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def load_yaml(content: bytes) -> Any:
    return yaml.load(content, Loader=yaml.CSafeLoader)  # libyaml: parsing dvc.lock is most of the time


def yaml_file(found: dict[str, Any]) -> bytes:
    return yaml.dump(found, Dumper=yaml.CSafeDumper, sort_keys=False).encode()


def json_file(found: dict[str, Any]) -> bytes:
    return (json.dumps(found, indent=2) + "\n").encode()


def tweak_params(params: dict[str, Any], choices: dict[str, dict], rng: random.Random) -> str:
    """Change one thing an experiment changes (model, its alpha, features, rows); say what."""
    kind = rng.choice(["model", "alpha", "alpha", "features", "rows"])
    if kind == "model":
        name = rng.choice(sorted(choices["model"]))
        params["model"] = dict(choices["model"][name])
        return f"model: {name}"
    if kind == "alpha" and "alpha" in params["model"]:
        params["model"]["alpha"] = rng.choice(ALPHAS)
        return f"model: {params['model']['name']} alpha {params['model']['alpha']}"
    if kind == "features":
        name = rng.choice(sorted(choices["features"]))
        params["features"] = dict(choices["features"][name])
        return f"features: {name}"
    params["training"]["max_rows"] = rng.choice([1_000_000, 5_000_000, 40_000_000])
    return f"training: max_rows {params['training']['max_rows']:,}"


def expected_rmse(params: dict[str, Any], window_rmse: float, rng: random.Random) -> float:
    model = MODEL_EFFECT.get(params["model"]["name"], 0.0)
    return round(
        window_rmse + model + FEATURES_EFFECT.get(params["features"]["name"], 0.0) + rng.gauss(0, 0.08), 4
    )


def set_md5(lock: dict[str, Any], path: str, digest: str, size: int) -> None:
    """The same md5 wherever dvc.lock names `path`: a stage's output and the deps that read it."""
    for stage in lock["stages"].values():
        for entry in [*stage.get("deps", []), *stage.get("outs", [])]:
            if entry["path"] == path:
                entry.update(md5=digest, size=size)


def relock(
    lock: dict[str, Any],
    params: dict[str, Any],
    rerun: list[str],
    written: dict[str, bytes],
    rng: random.Random,
) -> dict[str, Any]:
    """dvc.lock after `rerun` ran with `params`: their outputs' md5s (real for `written` files)."""
    lock = copy.deepcopy(lock)
    for stage in lock["stages"].values():
        sections = stage.get("params", {}).get("params.yaml", {})
        for section in sections:
            sections[section] = copy.deepcopy(params[section])
    for name in rerun:
        for out in lock["stages"][name]["outs"]:
            path = out["path"]
            if path in written:
                set_md5(lock, path, md5(written[path]), len(written[path]))
            else:
                digest = random_md5(rng) + (".dir" if out["md5"].endswith(".dir") else "")
                set_md5(lock, path, digest, int(out["size"] * rng.uniform(0.9, 1.1)))
    return lock


def metrics(rmse: float, base: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """metrics.json around the real one: mae, r2 and the training RMSE follow the validation RMSE."""
    spread = base["rmse"] / (1 - base["r2"]) ** 0.5  # the validation durations' standard deviation
    return {
        "rmse": rmse,
        "mae": round(rmse * base["mae"] / base["rmse"] * rng.uniform(0.98, 1.02), 4),
        "r2": round(1 - (rmse / spread) ** 2, 4),
        "train_rmse": round(rmse * base["train_rmse"] / base["rmse"] * rng.uniform(0.95, 1.05), 4),
        "train_rows": base["train_rows"],
        "val_rows": base["val_rows"],
        "features": base["features"],
    }


@functools.lru_cache
def _table(text: str) -> tuple[list[str], list[list[str]]]:
    header, *rows = text.splitlines()  # plots and backtest: plain CSV, no quoted commas
    return header.split(","), [row.split(",") for row in rows]


def scale_csv(text: str, ratio: float) -> bytes:
    """A plot or backtest CSV with its errors scaled by `ratio` (predictions moved off the actuals)."""
    columns, rows = _table(text)
    scaled = [columns.index(column) for column in SCALED if column in columns]
    predicted = columns.index("predicted") if "predicted" in columns else None
    lines = [",".join(columns)]
    for row in rows:
        row = list(row)
        for index in scaled:
            row[index] = f"{float(row[index]) * ratio:.4f}"
        if predicted is not None:
            actual = float(row[columns.index("actual")])
            row[predicted] = f"{actual + (float(row[predicted]) - actual) * ratio:.2f}"
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()


def with_month(data_dvc: dict[str, Any], month: str, rng: random.Random) -> dict[str, Any]:
    """data.dvc with one more TLC month in data/."""
    data_dvc = copy.deepcopy(data_dvc)
    data_dvc["meta"]["files"][f"green_tripdata_{month}.parquet"] = random_md5(rng)
    out = data_dvc["outs"][0]
    out.update(md5=random_md5(rng) + ".dir", size=out["size"] + rng.randint(1_000_000, 1_600_000))
    out["nfiles"] += 1
    return data_dvc


def monitoring_record(
    month: str,
    version: str,
    rmse: float,
    params: dict[str, Any],
    months: list[str],
    alert: bool,
    rng: random.Random,
) -> dict[str, Any]:
    """A month's record as `trip-duration retrain check` writes it, for prod `version` of `rmse`."""
    thresholds = params["monitor"]
    limit = thresholds["max_rmse_increase_pct"]
    increase = rng.uniform(limit + 1, limit + 10) if alert else rng.uniform(-5, limit - 5)
    rows = rng.randint(55_000, 85_000)
    month_rmse = round(rmse * (1 + increase / 100), 4)
    performance = {
        "rows": rows,
        "rmse": month_rmse,
        "mae": round(month_rmse * 0.69, 4),
        "r2": round(rng.uniform(0.5, 0.65), 4),
        "mean_error": round(rng.gauss(0, 0.3), 4),
        "rmse_increase_pct": monitoring.rmse_increase_pct(month_rmse, rmse),
        "rmse_threshold": round(rmse * (1 + limit / 100), 4),
    }
    categorical, numeric = drift.drift_columns(
        params["features"]["categorical"], params["features"]["numeric"]
    )
    inputs = {column: drift_test(rng, "Jensen-Shannon distance", alert) for column in categorical}
    inputs |= {column: drift_test(rng, "Wasserstein distance (normed)", alert) for column in numeric}
    sample = min(rows, thresholds["drift_sample"])
    drifts = {
        "reference_rows": sample,
        "current_rows": sample,
        "drifted_share": round(sum(test["drifted"] for test in inputs.values()) / len(inputs), 4),
        "prediction": drift_test(rng, "Wasserstein distance (normed)", alert),
        "inputs": inputs,
    }
    reasons = monitoring.decide(
        rows,
        performance["rmse_increase_pct"],
        drifts["drifted_share"],
        drifts["prediction"]["score"],
        thresholds,
    )
    reference = {"months": params["data"]["val_months"], "rows": rows, "rmse": rmse}
    model = {"name": "trip-duration", "version": version}
    quality = {"raw_rows": rows + rng.randint(1_000, 4_000), "zone_unknown": round(rng.uniform(0, 0.01), 6)}
    found = monitoring.record(model, month, reference, performance, drifts, quality, reasons)
    found["decision"] = retrain_decision(found, params["retrain"], months)
    return found


def drift_test(rng: random.Random, method: str, alert: bool, threshold: float = 0.1) -> dict[str, Any]:
    """A drift test's result: under its threshold, except now and then in a month that alerts."""
    score = round(threshold * (rng.uniform(0.2, 3) if alert else rng.betavariate(1.5, 6)), 4)
    return {"method": method, "score": score, "threshold": threshold, "drifted": score >= threshold}

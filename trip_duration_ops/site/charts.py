"""The Vega-Lite charts whose data the site knows when it is built (the run plots are drawn in the page)."""

from typing import Any

WIDTH = 640


def chart(title: str, values: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": title,
        "width": WIDTH,
        "data": {"values": values},
        **spec,
    }


def rmse_over_commits(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Validation RMSE of each main run in commit order, its version where it has one."""
    values = [
        {
            "commit": run["label"],
            "order": number,
            "rmse": run["metrics"].get("rmse"),
            "subject": run["subject"],
            "version": run["version"] or "",
        }
        for number, run in enumerate(runs)
        if run["kind"] == "main"
    ]
    tooltip = [{"field": key} for key in ("commit", "version", "rmse", "subject")]
    return chart(
        "Validation RMSE over the commits of main that changed the model or its data",
        values,
        mark={"type": "line", "point": True},
        encoding={
            "x": {
                "field": "order",
                "type": "quantitative",
                "title": "commit (oldest first)",
                "axis": {"tickMinStep": 1, "format": "d"},
            },
            "y": {
                "field": "rmse",
                "type": "quantitative",
                "scale": {"zero": False},
                "title": "RMSE (minutes)",
            },
            "tooltip": tooltip,
        },
    )


def stage_timeline(spans: list[dict[str, str]]) -> dict[str, Any]:
    """Which version held each stage when: one bar per assignment, to the next one (or now)."""
    return chart(
        "Stages over time",
        spans,
        mark={"type": "bar", "height": 18},
        encoding={
            "x": {
                "field": "start",
                "type": "temporal",
                "title": "time (UTC)",
                "scale": {"type": "utc"},
                "axis": {"format": "%Y-%m-%d %H:%M", "formatType": "utc", "labelAngle": -30},
            },
            "x2": {"field": "end"},
            "y": {"field": "stage", "type": "nominal"},
            "color": {"field": "version", "type": "nominal"},
            "tooltip": [{"field": key} for key in ("stage", "version", "start", "end", "why")],
        },
    )


def by_month(title: str, rows: list[dict[str, Any]], y_title: str, zero: bool = False) -> dict[str, Any]:
    """Lines over months, one per `series` (rows: month, series, value)."""
    return chart(
        title,
        rows,
        mark={"type": "line", "point": True},
        encoding={
            "x": {"field": "month", "type": "ordinal"},
            "y": {"field": "value", "type": "quantitative", "title": y_title, "scale": {"zero": zero}},
            "color": {"field": "series", "type": "nominal"},
            "tooltip": [{"field": "month"}, {"field": "series"}, {"field": "value"}],
        },
    )


def monitoring(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The served model's RMSE against its threshold, and drift by input and for the prediction."""
    rmse, drift = [], []
    for record in records:
        month, metrics, found = record["month"], record["metrics"], record["drift"]
        rmse += [
            {"month": month, "series": "rmse", "value": metrics["rmse"]},
            {"month": month, "series": "alert threshold", "value": metrics["rmse_threshold"]},
        ]
        drift += [
            {"month": month, "series": name, "value": test["score"]}
            for name, test in (found.get("inputs") or {}).items()
        ]
        drift.append({"month": month, "series": "prediction", "value": found["prediction"]["score"]})
    return [
        by_month("The served model's RMSE by month, against the RMSE that alerts", rmse, "RMSE (minutes)"),
        by_month("Drift score by input and for the prediction", drift, "drift score", zero=True),
    ]


def backtests(versions: list[Any]) -> dict[str, Any]:
    """Each version's RMSE on the months after its validation window (its commit's backtest)."""
    rows = [
        {"month": row["month"], "series": version.version, "value": row["rmse"]}
        for version in versions
        for row in version.backtest
        if "rmse" in row
    ]
    return by_month(
        "Backtest: each version's RMSE on the months after its validation", rows, "RMSE (minutes)"
    )

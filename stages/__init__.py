"""Stages of the NYC taxi trip-duration pipeline; `dvc.yaml` wires them together."""

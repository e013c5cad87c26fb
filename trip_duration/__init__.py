"""Predict NYC taxi trip duration in minutes: the model, its inputs, its metrics and its registry.

Importing this package imports nothing heavy: each module pulls in only what it needs.
"""

"""Tools that people and CI run, reached through one console script: `trip-duration`."""

"""The repository's own experiment tracker and registry UI: a static site built from git alone."""

#!/usr/bin/env bash
# CI: put the data that data.dvc records (and whatever else the DVC remote holds) into the workspace.
#
# With credentials for the DVC remote (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), pull from it: the
# default remote of .dvc/config, or DVC_REMOTE_URL (an s3:// URL) when set, written to the untracked
# .dvc/config.local so the committed config stays as it is. Without them, as on pull requests from
# forks, which get no secrets, fetch the months from the public TLC URL and check their md5s.
#
# Writes remote=true|false to $GITHUB_OUTPUT: whether `dvc push` has somewhere to go.
set -euo pipefail

remote=false
if [[ -n "${AWS_ACCESS_KEY_ID:-}" ]]; then
  python -m pip install --quiet dvc-s3
  if [[ -n "${DVC_REMOTE_URL:-}" ]]; then
    dvc remote add --local --force --default ci "$DVC_REMOTE_URL"
  fi
  # Outputs that a pull request changes are not in the remote yet: `dvc repro` makes them.
  dvc pull --allow-missing
  remote=true
else
  echo "No DVC remote credentials: fetching the TLC months from their public URL"
  trip-duration fetch
fi
echo "remote=$remote" >>"${GITHUB_OUTPUT:-/dev/null}"

#!/usr/bin/env bash
# CI: put the data that data.dvc records (and whatever else the DVC remote holds) into the workspace.
#
# With credentials for the DVC remote (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), pull from it: the
# default remote of .dvc/config, or DVC_REMOTE_URL (an s3:// URL) when set, written to the untracked
# .dvc/config.local so the committed config stays as it is. A default remote that is a folder on
# this machine is pulled from too. Without either, as on pull requests from forks, which get no
# secrets, fetch the months from the public TLC URL and check their md5s.
#
# Writes remote=true|false to $GITHUB_OUTPUT: whether `dvc push` has somewhere to go.
set -euo pipefail

# The default remote's URL when it is a folder on this machine (relative to .dvc/, as DVC reads it).
local_remote() {
  local name url
  name=$(dvc config core.remote 2>/dev/null) || return 1
  url=$(dvc config "remote.${name}.url" 2>/dev/null) || return 1
  [[ "$url" != *://* ]] && (cd .dvc && [[ -d "$url" ]])
}

remote=false
if [[ -n "${AWS_ACCESS_KEY_ID:-}" ]]; then
  python -m pip install --quiet -c constraints.txt dvc-s3
  if [[ -n "${DVC_REMOTE_URL:-}" ]]; then
    dvc remote add --local --force --default ci "$DVC_REMOTE_URL"
  fi
  # Outputs that a pull request changes are not in the remote yet: `dvc repro` makes them.
  dvc pull --allow-missing
  remote=true
elif local_remote; then
  # A remote on this machine's disk (a self-hosted runner, the offline tests): no credentials needed.
  dvc pull --allow-missing
  remote=true
else
  echo "No DVC remote credentials: fetching the TLC months from their public URL"
  trip-duration fetch
fi
echo "remote=$remote" >>"${GITHUB_OUTPUT:-/dev/null}"

#!/usr/bin/env bash
# Installs what Checkpoint needs: system libraries (zbar for the fallback decoder, Mosquitto
# for the local broker, PostgreSQL for the district store tests, Chromium and a Chinese
# font for the guard console's kiosk and its browser tests) and a virtualenv holding the
# `checkpoint` application.
set -euo pipefail
python=${1:-python3.11}
venv=${2:-.venv}
packages=(libzbar0 mosquitto postgresql chromium fonts-wqy-microhei)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing system packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive bash -c "$cmd"
  else
    echo "missing system packages: ${missing[*]}" >&2
    echo "run as root:  sudo sh -c '$cmd'" >&2
    exit 1
  fi
fi

command -v "$python" >/dev/null || { echo "need $python (Python 3.11 to 3.13)" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
# What a device runs, exactly as locked and hash-checked; then the project (and, for a
# development machine, its test tools) on top of it.
"$venv/bin/pip" install --quiet --require-hashes -r requirements.lock
"$venv/bin/pip" install --quiet -e '.[dev]'

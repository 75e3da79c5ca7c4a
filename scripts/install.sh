#!/usr/bin/env bash
# Installs what Checkpoint needs: system libraries (zbar for the fallback decoder, Mosquitto
# for the local broker, PostgreSQL for the district store tests, Chromium and a Chinese
# font for the guard console's kiosk and its browser tests, shellcheck and systemd-analyze
# for the tests of the Pi installer and its unit) and a virtualenv holding the
# `checkpoint` application.
set -euo pipefail
# The first of Python 3.11 to 3.13 that runs (Raspberry Pi OS 12 has 3.11, 13 has 3.13).
default_python() {
  for p in python3.11 python3.12 python3.13; do "$p" -c '' 2>/dev/null && { echo "$p"; return; }; done
  echo python3
}
python=${1:-$(default_python)}
venv=${2:-.venv}
packages=(libzbar0 mosquitto postgresql chromium fonts-wqy-microhei)
# The tests of scripts/install-pi.sh and of the systemd unit: shellcheck, and
# systemd-analyze (Debian's systemd package; a container may lack it).
command -v shellcheck >/dev/null || packages+=(shellcheck)
command -v systemd-analyze >/dev/null || packages+=(systemd)

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

"$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null \
  || { echo "need Python 3.11 to 3.13; $python is not one (or does not run)" >&2; exit 1; }
minor() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
elif [ "$(minor "$venv/bin/python")" != "$(minor "$python")" ]; then
  # never a silent run on another Python than the one asked for
  echo "$venv is Python $(minor "$venv/bin/python"), not $python's $(minor "$python"):" \
    "remove it, or name another virtualenv" >&2
  exit 1
fi
"$venv/bin/pip" install --quiet --upgrade pip
# What a device runs, exactly as locked and hash-checked; then the project (and, for a
# development machine, its test tools) on top of it.
"$venv/bin/pip" install --quiet --require-hashes -r requirements.lock
"$venv/bin/pip" install --quiet -e '.[dev]'

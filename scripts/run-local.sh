#!/usr/bin/env bash
# `make run`: the whole local stack. Mosquitto on loopback (unless a broker already
# listens on 127.0.0.1:1883), the reference district receiver, and the agent on simulated
# drivers in the foreground. Ctrl-C stops the agent; the helpers stop with it.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-config/checkpoint.toml}
bin=.venv/bin
state=.run
mkdir -p "$state"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

listening() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }

if listening; then
  echo "run: using the MQTT broker already listening on 127.0.0.1:1883"
else
  # Mosquitto started as root switches to user `mosquitto`; run it as ourselves so it can
  # write its persistence file under .run/.
  { cat config/mosquitto/dev.conf
    echo "user $(id -un)"
    echo "persistence_location $PWD/$state/"; } > "$state/mosquitto.conf"
  mosquitto -c "$state/mosquitto.conf" > "$state/mosquitto.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do listening && break; sleep 0.1; done
  listening || { echo "run: mosquitto did not start, see $state/mosquitto.log" >&2; exit 1; }
  echo "run: mosquitto on 127.0.0.1:1883 (log: $state/mosquitto.log)"
fi

"$bin/checkpoint" district serve --config config/district.toml > "$state/district.log" 2>&1 &
pids+=($!)
echo "run: district receiver (log: $state/district.log; records: checkpoint district records)"

"$bin/checkpoint" run --config "$config" --simulate

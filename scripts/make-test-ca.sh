#!/usr/bin/env bash
# A TEST certificate authority for the production broker config (config/mosquitto/
# production.conf): the CA, a server certificate for localhost / 127.0.0.1 (plus any
# names given in SERVER_NAMES), a client certificate for the district receiver (CN
# "district") and one per device (CN = device id, which Mosquitto turns into the MQTT
# username, so the ACL patterns give each device its own topics).
#
#   scripts/make-test-ca.sh OUT_DIR DEVICE_ID...
#
# Writes OUT_DIR/ca.pem, server.pem + server-key.pem, district.pem + district-key.pem and
# DEVICE_ID.pem + DEVICE_ID-key.pem. An existing CA in OUT_DIR is reused, so devices can
# be added later. Keys are ECDSA P-256 without a passphrase: for tests and a lab only.
# A real district keeps its CA key offline and signs device requests made on the device.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [DEVICE_ID...]" >&2
  exit 2
fi
out=$1
shift
days=${DAYS:-825}
server_names=${SERVER_NAMES:-}
mkdir -p "$out"
umask 077

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# sign NAME CN EXTENSIONS: NAME-key.pem (made if missing) -> NAME.pem signed by the CA
sign() {
  local name=$1 cn=$2 extensions=$3
  [ -f "$out/$name-key.pem" ] || new_key "$out/$name-key.pem"
  openssl req -new -key "$out/$name-key.pem" -subj "/CN=$cn" -out "$out/$name.csr"
  # openssl chats on stderr even when it succeeds: show it only when it fails.
  openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" \
    -CAcreateserial -days "$days" -sha256 -out "$out/$name.pem" \
    -extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" \
                             "keyUsage=critical,digitalSignature" "$extensions") \
    2>"$out/$name.log" || { cat "$out/$name.log" >&2; exit 1; }
  rm -f "$out/$name.csr" "$out/$name.log"
}

valid_id() { [[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] && [ "$1" != district ]; }

for device in "$@"; do
  valid_id "$device" || {
    echo "$0: device id '$device' must be letters, digits, . _ - and not 'district'" >&2
    exit 2
  }
done

if [ ! -f "$out/ca-key.pem" ]; then
  new_key "$out/ca-key.pem"
  openssl req -x509 -new -key "$out/ca-key.pem" -subj "/CN=Checkpoint test CA" \
    -days "$days" -sha256 -out "$out/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
fi

san="DNS:localhost,IP:127.0.0.1"
for name in $server_names; do
  if [[ $name =~ ^[0-9.]+$ ]]; then san="$san,IP:$name"; else san="$san,DNS:$name"; fi
done
[ -f "$out/server.pem" ] || sign server localhost \
  "$(printf 'extendedKeyUsage=serverAuth\nsubjectAltName=%s' "$san")"
[ -f "$out/district.pem" ] || sign district district "extendedKeyUsage=clientAuth"
for device in "$@"; do
  sign "$device" "$device" "extendedKeyUsage=clientAuth"
done
chmod 644 "$out"/*.pem
chmod 600 "$out"/*-key.pem
echo "certificates in $out: ca.pem server.pem district.pem${*:+ $*}"

#!/usr/bin/env bash
# A TEST certificate authority for the production broker config (config/mosquitto/
# production.conf): the CA, a server certificate for localhost / 127.0.0.1 (plus any
# names given in SERVER_NAMES), a client certificate for each district receiver (CN
# "district", plus any names given in RECEIVERS) and one per device (CN = device id,
# which Mosquitto turns into the MQTT username and client id; the broker's rules,
# `checkpoint district broker-acl`, give each device its own topics), and the CA's
# certificate revocation list.
#
#   scripts/make-test-ca.sh OUT_DIR [DEVICE_ID...]
#   scripts/make-test-ca.sh --revoke OUT_DIR NAME...
#
# Writes OUT_DIR/ca.pem, server.pem + server-key.pem, district.pem + district-key.pem (and
# one pair per RECEIVERS name), DEVICE_ID.pem + DEVICE_ID-key.pem and crl.pem. An existing
# CA in OUT_DIR is reused, so devices can be added later. Receivers are "district" or
# "district-NAME" (RECEIVERS="district district-2" for two); a device may not take such a
# name. --revoke adds the certificates NAME.pem to the CA's revocation list and rewrites
# crl.pem; every run rewrites crl.pem, valid for CRL_DAYS (default 30): a broker with an
# expired CRL refuses every client, so write a fresh one before then.
# Keys are ECDSA P-256 without a passphrase: for tests and a lab only.
# A real district keeps its CA key offline and signs device requests made on the device.
#
# The names here are the CA folder's (one pair per client); a gate's config
# (config/pi.toml) names its files tls/ca.pem, tls/device.pem and tls/device.key. To
# carry a device to its gate under those names, issue it with
#   checkpoint district add-device DEVICE_ID --ca-dir OUT_DIR --out BUNDLE_DIR ...
# (docs/provisioning.md), which signs with this CA, leaves OUT_DIR/DEVICE_ID.pem for
# --revoke, and writes the bundle that `checkpoint provision` reads at the gate.
set -euo pipefail

usage() {
  echo "usage: $0 OUT_DIR [DEVICE_ID...]" >&2
  echo "       $0 --revoke OUT_DIR NAME..." >&2
  exit 2
}
revoke=false
if [ "${1:-}" = --revoke ]; then
  revoke=true
  shift
  [ $# -ge 2 ] || usage
fi
[ $# -ge 1 ] || usage
out=$1
shift
days=${DAYS:-825}
crl_days=${CRL_DAYS:-30}
server_names=${SERVER_NAMES:-}
receivers=${RECEIVERS:-district}
mkdir -p "$out"
umask 077

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# quiet COMMAND...: openssl chats on stderr even when it succeeds; show it only on failure.
quiet() {
  "$@" 2>"$out/openssl.log" || { cat "$out/openssl.log" >&2; rm -f "$out/openssl.log"; exit 1; }
  rm -f "$out/openssl.log"
}

# sign NAME CN EXTENSIONS: NAME-key.pem (made if missing) -> NAME.pem signed by the CA
sign() {
  local name=$1 cn=$2 extensions=$3
  [ -f "$out/$name-key.pem" ] || new_key "$out/$name-key.pem"
  openssl req -new -key "$out/$name-key.pem" -subj "/CN=$cn" -out "$out/$name.csr"
  quiet openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" \
    -CAcreateserial -days "$days" -sha256 -out "$out/$name.pem" \
    -extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" \
                             "keyUsage=critical,digitalSignature" "$extensions")
  rm -f "$out/$name.csr"
}

# ca_db ARGS...: `openssl ca` on the CA's revocation database (index.txt, crlnumber).
ca_db() {
  [ -f "$out/index.txt" ] || : >"$out/index.txt"
  [ -f "$out/crlnumber" ] || echo 01 >"$out/crlnumber"
  quiet openssl ca -config <(printf '%s\n' "[ca]" "default_ca = test_ca" "[test_ca]" \
      "database = $out/index.txt" "crlnumber = $out/crlnumber" "default_md = sha256" \
      "default_crl_days = $crl_days") \
    -keyfile "$out/ca-key.pem" -cert "$out/ca.pem" "$@"
}

write_crl() {
  ca_db -gencrl -out "$out/crl.pem"
  chmod 644 "$out/crl.pem"
}

name_ok() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]]; }
receiver_name() { [ "$1" = district ] || [[ $1 == district-* ]]; }

if $revoke; then
  [ -f "$out/ca-key.pem" ] || { echo "$0: no CA in $out" >&2; exit 2; }
  for name in "$@"; do
    [ -f "$out/$name.pem" ] || { echo "$0: no certificate $out/$name.pem" >&2; exit 2; }
  done
  for name in "$@"; do
    # A certificate revoked before is left as it is: the revocation list already has it.
    serial=$(openssl x509 -in "$out/$name.pem" -noout -serial | cut -d= -f2)
    awk -F '\t' -v serial="$serial" '$1 == "R" && $4 == serial { found = 1 }
        END { exit !found }' "$out/index.txt" 2>/dev/null || ca_db -revoke "$out/$name.pem"
  done
  write_crl
  echo "revoked in $out/crl.pem: $*"
  exit 0
fi

for device in "$@"; do
  if ! name_ok "$device" || receiver_name "$device"; then
    echo "$0: device id '$device' must be letters, digits, . _ - and not 'district' or" \
         "'district-...'" >&2
    exit 2
  fi
done
for receiver in $receivers; do
  if ! name_ok "$receiver" || ! receiver_name "$receiver"; then
    echo "$0: receiver '$receiver' must be 'district' or 'district-NAME'" >&2
    exit 2
  fi
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
for receiver in $receivers; do
  [ -f "$out/$receiver.pem" ] || sign "$receiver" "$receiver" "extendedKeyUsage=clientAuth"
done
for device in "$@"; do
  sign "$device" "$device" "extendedKeyUsage=clientAuth"
done
write_crl
chmod 644 "$out"/*.pem
chmod 600 "$out"/*-key.pem
echo "certificates in $out: ca.pem server.pem crl.pem $receivers${*:+ $*}"

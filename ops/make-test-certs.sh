#!/usr/bin/env bash
# Test certificates, made fresh with openssl (tests call this; nothing here is
# a secret or committed):
#
#   ops/make-test-certs.sh DIR
#
# DIR/ca.pem            a CA; other-ca.pem another, which signed nothing of Stitch's
# DIR/server.pem|.key   signed by ca, for localhost and 127.0.0.1, valid for a day
# DIR/server2.pem|.key  the same names, another key (a renewal: SIGHUP reload)
# DIR/expired.pem|.key  signed by ca, valid only in January 2020
# DIR/client.pem|.key   a client certificate signed by ca
# DIR/other-client.pem|.key  a client certificate signed by other-ca
# DIR/node.pem|.key     a cluster node's: server and client (forwarding to a peer), localhost and 127.0.0.1
set -euo pipefail
dir="${1:?usage: ops/make-test-certs.sh DIR}"
mkdir -p "$dir"
cd "$dir"
command -v openssl >/dev/null || apt-get install -y -qq openssl >&2
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -days 2 -subj "/CN=$2" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
ca ca "Stitch Test CA"
ca other-ca "Some Other CA"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > node.ext
# leaf NAME CN SIGNER EXT
leaf() {
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 1 -extfile "$4" -out "$1.pem" 2>/dev/null
}
leaf server "stitch test server" ca server.ext
leaf server2 "stitch test server (renewed)" ca server.ext
leaf client "reporting-service" ca client.ext
leaf other-client "stranger" other-ca client.ext
leaf node "stitch test node" ca node.ext
# An expired certificate: `openssl ca` takes explicit dates (`x509 -req` only a count of days).
key expired.key
openssl req -new -key expired.key -subj "/CN=stitch expired server" -out expired.csr 2>/dev/null
mkdir -p ca-db && : > ca-db/index.txt && echo 1000 > ca-db/serial
cat > ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = server
[any]
commonName = supplied
[server]
subjectAltName = DNS:localhost,IP:127.0.0.1
extendedKeyUsage = serverAuth
CNF
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20200102000000Z -notext 2>/dev/null
echo "$dir"

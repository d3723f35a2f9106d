#!/bin/sh
# A throwaway PKI for the TLS tests, made fresh in DIR at test time with the
# openssl command (keys are never checked in):
#
#   ca.pem            the test root CA (what clients trust: --cafile)
#   server.pem/.key   "localhost" (DNS:localhost, IP:127.0.0.1, IP:::1),
#                     issued by an intermediate CA; server.pem is the full
#                     chain (leaf, then intermediate), as --tls-cert wants
#   other.pem/.key    a second server certificate, CN "other", same names
#                     and chain: what a reload switches to
#   self.pem/.key     self-signed "localhost" (--insecure tests)
#   elsewhere.pem/.key  issued like server.pem but for DNS:elsewhere.example
#                     only: a name or address mismatch for clients
#   wrong.key         a key that matches no certificate here
#   enc.key           server.key encrypted with a passphrase
#
# usage: mkcerts.sh DIR     (DIR exists; prints nothing unless it fails)
set -eu

dir=$1
cd "$dir"
days=2
names='subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'

# An EC P-256 key: fast to make, and ECDHE-ECDSA for TLS 1.2.
key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# issue NAME CN ISSUER EXTENSIONS: NAME.pem signed by ISSUER(.pem/.key).
issue() {
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    printf '%s\n' "$4" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
        -CAcreateserial -days $days -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

ca_ext='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
leaf_ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
$names"

key ca.key
openssl req -x509 -new -key ca.key -subj "/CN=libchat test root CA" \
    -days $days -addext 'basicConstraints=critical,CA:TRUE' \
    -addext 'keyUsage=critical,keyCertSign,cRLSign' -out ca.pem
issue inter "libchat test intermediate CA" ca "$ca_ext"
mv inter.crt inter.pem
for leaf in server other elsewhere; do
    if [ "$leaf" = elsewhere ]; then
        ext=$(printf '%s\n' "$leaf_ext" | sed 's/^subjectAltName=.*/subjectAltName=DNS:elsewhere.example/')
    else
        ext=$leaf_ext
    fi
    issue "$leaf" "$leaf" inter "$ext"
    cat "$leaf.crt" inter.pem >"$leaf.pem"
    rm -f "$leaf.crt"
done

key self.key
openssl req -x509 -new -key self.key -subj "/CN=localhost" -days $days \
    -addext "$names" -out self.pem

key wrong.key
openssl pkey -in server.key -aes256 -passout pass:secret -out enc.key

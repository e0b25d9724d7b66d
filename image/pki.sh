#!/bin/bash
# image/pki.sh DIR: a TEST update-signing PKI in DIR (made once, kept): ca.pem (the keyring a test image trusts),
# ca.key, signing.pem + signing.key (what `make bundle` signs with). Never for a reader in a clinic: a vendor
# passes its own keyring to `make image` (RAUC_KEYRING) and its own signer to `make bundle` (RAUC_CERT,
# RAUC_KEY), kept outside the repository (docs/fleet.md). Nothing here is committed: DIR is under build/.
set -euo pipefail
dir=${1:?usage: image/pki.sh DIR}
[ -s "$dir/signing.pem" ] && exit 0
mkdir -p "$dir" && chmod 700 "$dir"
cd "$dir"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 3650 -subj "/O=mynareader TEST/CN=mynareader TEST update CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req "${ec[@]}" -keyout signing.key -out signing.csr -subj "/O=mynareader TEST/CN=mynareader TEST bundle signer" 2>/dev/null
openssl x509 -req -in signing.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -out signing.pem \
    -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n') 2>/dev/null
rm -f signing.csr ca.srl
echo "image/pki.sh: a TEST update-signing PKI in $dir (not for a clinic's readers)"

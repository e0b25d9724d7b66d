#!/bin/sh
# The first boot of a reader image (mynareader-firstboot.service): make what must be this reader's own and never
# part of an image - the state store and its marker, and the CA of the network transport with its server
# certificate (default names: the host name, HOST.local, localhost; 'mynareader tls init --host ... --ip ...'
# later adds the clinic's address and keeps the CA). The flag goes last, so a failure is retried at the next boot.
set -eu
mr=/opt/mynareader/.venv/bin/mynareader
conf=/etc/mynareader/mynareader.toml
if [ ! -e /data/mynareader.store-id ]; then
    "$mr" store init --config "$conf"
fi
if [ ! -e /etc/mynareader/tls/ca.pem ]; then
    "$mr" tls init
fi
rm -f /data/.first-boot
echo "mynareader first boot: state store, marker and TLS CA made"

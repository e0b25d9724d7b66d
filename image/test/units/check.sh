#!/bin/sh
# TEST ONLY (tests/test_image.py): one "MRTEST key value" line per fact; the test reads them from the console.
say() { echo "MRTEST $*"; }
say state "$(systemctl is-system-running --wait)"
systemctl list-units --failed --plain --no-legend | while read -r unit rest; do say failed "$unit"; done
for unit in $(systemctl list-unit-files --plain --no-legend 'mynareader*' | awk '$2 != "static" && $1 !~ /^mynareader-(image|update)-check\.service$/ {print $1}'); do
    say unit "$unit" "$(systemctl is-enabled "$unit" 2>&1)" "$(systemctl is-active "$unit")"
done
for unit in mynareader.service mynareader-kiosk-web.service mynareader-kiosk-display.service; do
    say security "$unit" "$(systemd-analyze security --no-pager "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]* [A-Z]*\).*/\1/p')"
done
say marker "$(test -s /data/mynareader.store-id && echo present || echo missing)"
say firstflag "$(test -e /data/.first-boot && echo present || echo gone)"
say ca "$(/opt/mynareader/.venv/bin/python -c 'import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open("/etc/mynareader/tls/ca.pem", "rb").read())
print(int(c.not_valid_before_utc.timestamp()), c.subject.rfc4514_string())')"
# kiosk-web: the page for anyone, the WebSocket (PINs, consent) only for the kiosk group's users - a loopback
# port is reachable by any local program
for user in mynareader-display nobody; do
    say kiosk-web "$user" "$(runuser -u "$user" -- /opt/mynareader/.venv/bin/python /run/systemd/generator/kiosk_probe.py 2>&1 | tail -1)"
done
journalctl -b -u mynareader-kiosk-web -p warning -o cat --no-pager | tail -5 | while read -r line; do say log "$line"; done
# the host's two TLS clients (the reception PC and a patient-screen PC), issued by this reader's CA
mr=/opt/mynareader/.venv/bin/mynareader
out=/run/mrtest
for role in reception kiosk; do
    "$mr" tls issue "image-test-$role" --role "$role" --out "$out" --password test >/dev/null
    for f in "image-test-$role.pem" "image-test-$role.key"; do say file "$f" "$(base64 -w0 "$out/$f")"; done
done
say file ca.pem "$(base64 -w0 "$out/ca.pem")"
rm -rf "$out"
say ready
# until the test stops the machine: the touchscreen's unit and what it last logged (the display test waits on it)
while sleep 30; do
    say display "$(systemctl show -P ActiveState,NRestarts mynareader-kiosk-display.service | paste -sd' ')" \
        "$(journalctl -b -u mynareader-kiosk-display -o cat --no-pager | grep -v -E "dbus|crashpad" | tail -4 | cut -c1-160 | paste -sd'|')"
    ps -u mynareader-display -o pid=,stat=,etimes=,wchan:24=,args= | cut -c1-150 | while read -r line; do say process "$line"; done
done

#!/bin/bash
# kiosk layer: the patient's touchscreen - cage + chromium on tty1 (mynareader-kiosk-display.service, its user);
# the page itself (mynareader-kiosk-web) comes with the reader layer.
set -euo pipefail
r=$ROOTFS
install -m 644 "$REPO/systemd/mynareader-kiosk-display.service" "$r/usr/lib/systemd/system/"
install -m 644 "$REPO/systemd/mynareader-display.sysusers.conf" "$r/usr/lib/sysusers.d/mynareader-display.conf"
systemd-sysusers --root="$r" >/dev/null
systemctl --root="$r" mask getty@tty1.service >/dev/null 2>&1
systemctl --root="$r" set-default graphical.target >/dev/null 2>&1
systemctl --root="$r" enable mynareader-kiosk-display.service >/dev/null 2>&1

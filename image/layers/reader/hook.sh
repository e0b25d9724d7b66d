#!/bin/bash
# reader layer: the project in /opt/mynareader with its venv, the units, users and directories, the first-boot
# unit (state store, marker, TLS CA: never in the image), and the configuration on the data partition.
set -euo pipefail
r=$ROOTFS
app=/opt/mynareader

# the project as the repository has it (tracked and new files, nothing git ignores: no build/, no .venv)
mkdir -p "$r$app"
git -C "$REPO" ls-files -z --cached --others --exclude-standard \
    | (cd "$REPO" && tar --null -T - -cf - --ignore-failed-read) | tar -xf - -C "$r$app" --no-same-owner
# pyscard and systemd-python come from Debian (no aarch64 wheels): --system-site-packages
in_root python3 -m venv --system-site-packages "$app/.venv"
# PIN_WHEELS=an earlier image's manifest.txt: the same wheel versions again (docs/image.md, reproducing an image)
pin=()
if [ -n "${PIN_WHEELS:-}" ]; then
    sed -n 's/^wheel //p' "$PIN_WHEELS" | grep -v '^mynareader==' > "$r/tmp/constraints.txt"
    pin=(-c /tmp/constraints.txt)
fi
in_root "$app/.venv/bin/python" -m pip install -q --disable-pip-version-check --no-warn-script-location "${pin[@]}" "$app"
rm -f "$r/tmp/constraints.txt"
rm -rf "$r$app/build" "$r$app"/*.egg-info
ln -sf "$app/.venv/bin/mynareader" "$r/usr/local/bin/mynareader"      # the technician's command, on PATH
# every native part loads (plain chroot: under qemu-user, onnxruntime reading the build machine's /sys crashes)
chroot "$r" "$app/.venv/bin/python" -c "import smartcard, systemd.journal, onnxruntime, cv2, mynareader.daemon.cli.__main__"

# units (vendor units in /usr/lib: the clinic's drop-ins go to /etc/systemd/system/UNIT.d)
install -m 644 "$REPO"/systemd/mynareader.service "$REPO"/systemd/mynareader-*.socket \
    "$REPO"/systemd/mynareader-kiosk-web.service "$REPO/image/files/mynareader-firstboot.service" \
    "$r/usr/lib/systemd/system/"
install -m 644 "$REPO/systemd/mynareader.sysusers.conf" "$r/usr/lib/sysusers.d/mynareader.conf"
install -m 644 "$REPO/systemd/mynareader.tmpfiles.conf" "$r/usr/lib/tmpfiles.d/mynareader.conf"
install -D -m 755 "$REPO/image/files/firstboot.sh" "$r/usr/lib/mynareader/firstboot"
install -D -m 755 "$REPO/image/files/mynareader-test-generator" \
    "$r/usr/lib/systemd/system-generators/mynareader-test-generator"
# users and groups now, so their ids are the image's own (files on the data partition keep them)
systemd-sysusers --root="$r" >/dev/null
systemctl --root="$r" enable pcscd.socket mynareader-reception.socket mynareader-kiosk.socket \
    mynareader.service mynareader-kiosk-web.service mynareader-firstboot.service >/dev/null 2>&1

# the data partition: the state directory (bind-mounted on /var/lib/mynareader), the configuration directory
# (on /etc/mynareader) with the example configuration, the marker's place, and the first-boot flag
install -d -m 700 "$DATA_DIR/mynareader"
install -d -m 755 "$DATA_DIR/etc-mynareader"
sed -e 's|^marker = "".*|marker = "/data/mynareader.store-id"    # the data partition, shared by both system slots (docs/image.md)|' \
    -e "s|^camera = \"[^\"]*\"|camera = \"$CAMERA\"|" \
    "$REPO/systemd/mynareader.toml.example" > "$DATA_DIR/etc-mynareader/mynareader.toml"
grep -q '^marker = "/data/mynareader.store-id"' "$DATA_DIR/etc-mynareader/mynareader.toml"
chmod 644 "$DATA_DIR/etc-mynareader/mynareader.toml"
echo "made by image/build.sh: the first boot makes the state store, its marker and the TLS CA, then removes this" \
    > "$DATA_DIR/.first-boot"

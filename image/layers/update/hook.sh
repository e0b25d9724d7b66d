#!/bin/bash
# update layer: A/B updates with RAUC (docs/image.md, A/B updates). The system configuration (this profile's
# compatible string, the four slots by their GPT labels, the custom bootloader backend), the keyring that signs
# bundles, the backend and the health unit that commits a tried slot; a hardware watchdog; for qemu-amd64 the
# bootloader (GRUB, EFI) on the config partition.
set -euo pipefail
r=$ROOTFS
u=$REPO/image/files/update
: "${RAUC_KEYRING:?the keyring (PEM) that signs the bundles of this image: build.sh sets it}"

install -d -m 755 "$r/etc/rauc"
sed "s/@COMPATIBLE@/mynareader-$PROFILE/" "$u/system.conf.in" > "$r/etc/rauc/system.conf"
install -m 644 "$RAUC_KEYRING" "$r/etc/rauc/keyring.pem"
grep -q 'BEGIN CERTIFICATE' "$r/etc/rauc/keyring.pem"
install -D -m 755 "$u/rauc-bootloader" "$r/usr/lib/mynareader/rauc-bootloader"
install -D -m 755 "$u/health" "$r/usr/lib/mynareader/health"
echo "BOOT=$BOOT" > "$r/usr/lib/mynareader/update.env"
install -m 644 "$u/mynareader-health.service" "$u/rauc.service" "$r/usr/lib/systemd/system/"
install -D -m 644 "$u/de.pengutronix.rauc.service" "$r/usr/share/dbus-1/system-services/de.pengutronix.rauc.service"
install -D -m 644 "$u/de.pengutronix.rauc.conf" "$r/usr/share/dbus-1/system.d/de.pengutronix.rauc.conf"
install -D -m 644 "$u/slot.conf" "$r/usr/lib/systemd/system/mynareader.service.d/slot.conf"
systemctl --root="$r" enable mynareader-health.service >/dev/null 2>&1

# systemd feeds the hardware watchdog (the Pi's bcm2835-wdt, QEMU's i6300esb): a hung kernel or PID 1 resets
# the board, and a hung try comes back to the committed slot. 15 s: the most the Pi's watchdog can count.
install -d "$r/usr/lib/systemd/system.conf.d"
printf '[Manager]\nRuntimeWatchdogSec=15s\nRebootWatchdogSec=2min\n' > "$r/usr/lib/systemd/system.conf.d/mynareader-watchdog.conf"

# the slot hook travels in each bundle (image/bundle.sh), not in the image
case $BOOT in
qemu)
    # GRUB as the EFI loader on the config partition (an EFI system partition in this profile): its menu and
    # environment block choose the slot (the qemu half of rauc-bootloader). qemu-arm64 gets the menu and the
    # block (the backend reads them) but no loader: its boot test loads the kernel directly, and the A/B boot
    # is tested on qemu-amd64 only.
    install -m 644 "$u/grub.cfg" "$CONFIG_DIR/grub.cfg"
    grub-editenv "$CONFIG_DIR/grubenv" create
    grub-editenv "$CONFIG_DIR/grubenv" set saved_entry=A
    if [ "$ARCH" = amd64 ]; then
        command -v grub-mkstandalone >/dev/null || { echo "update layer: grub-mkstandalone missing: make image-tools" >&2; exit 2; }
        install -d "$CONFIG_DIR/EFI/BOOT"
        grub-mkstandalone -O x86_64-efi -o "$CONFIG_DIR/EFI/BOOT/BOOTX64.EFI" --locales= --fonts= --themes= \
            --modules="part_gpt fat ext2 search search_label regexp loadenv linux normal configfile test echo" \
            "boot/grub/grub.cfg=$u/grub-embedded.cfg"
    fi
    ;;
esac

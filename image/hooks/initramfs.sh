#!/bin/sh
# mmdebstrap essential hook (before the kernel is installed): an initramfs with only the modules that mount the
# root file system (the profile's INITRAMFS_MODULES), zstd-compressed. A generic one (MODULES=most) takes about
# half an hour to make under qemu-user; this one minutes, and it boots faster.
set -eu
root=$1
mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/usr/share/initramfs-tools/modules.d"
printf 'MODULES=list\nCOMPRESS=zstd\n' > "$root/etc/initramfs-tools/conf.d/mynareader.conf"
printf '%s\n' $INITRAMFS_MODULES > "$root/usr/share/initramfs-tools/modules.d/mynareader"
# raspi-firmware copies the firmware and the kernel here when they are installed (the boot partition's files)
if [ "$BOOT" = rpi ]; then mkdir -p "$root/boot/firmware"; fi

#!/bin/bash
# base layer: host name, file systems (slot, boot, data), DHCP on wired network, the time, an empty machine-id
# (made at first boot, so two readers from one image differ), the boot partition's files.
set -euo pipefail
r=$ROOTFS
echo mynareader > "$r/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tmynareader\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$r/etc/hosts"
: > "$r/etc/machine-id"
rm -f "$r/var/lib/dbus/machine-id"

# This slot's own boot partition, and the data partition both slots share. The slot is named by the
# partition label on the kernel command line (root=PARTLABEL=system_a); an update writes system_b's fstab
# with boot_b. /var/lib/mynareader (the state store) and /etc/mynareader (configuration, TLS) live on data.
cat > "$r/etc/fstab" <<'FSTAB'
# <file system>           <mount point>        <type> <options>                                        <dump> <pass>
PARTLABEL=system_a        /                    ext4   defaults,noatime                                 0 1
PARTLABEL=boot_a          /boot/firmware       vfat   defaults,noatime,umask=0022                      0 2
PARTLABEL=data            /data                ext4   defaults,noatime                                 0 2
/data/mynareader          /var/lib/mynareader  none   bind,x-systemd.requires-mounts-for=/data         0 0
/data/etc-mynareader      /etc/mynareader      none   bind,x-systemd.requires-mounts-for=/data         0 0
FSTAB
mkdir -p "$r/boot/firmware" "$r/boot/config" "$r/data" "$r/var/lib/mynareader" "$r/etc/mynareader"
echo "PARTLABEL=config           /boot/config         vfat   ro,noatime,umask=0022,nofail                      0 2" \
    >> "$r/etc/fstab"

# SSH for the technician: keys only, read from authorized_keys on the config partition (a FAT partition any
# PC can write before the first boot; with no such file nobody can log in). Host keys are made at first boot:
# two readers from one image must not share them.
rm -f "$r"/etc/ssh/ssh_host_*
cat > "$r/etc/ssh/sshd_config.d/mynareader.conf" <<'SSHD'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile .ssh/authorized_keys /boot/config/authorized_keys
SSHD
install -m 644 "$REPO/image/files/ssh-host-keys.service" "$r/usr/lib/systemd/system/"
systemctl --root="$r" enable ssh-host-keys.service >/dev/null 2>&1

# wired network by DHCP (a fixed address for the reception PCs: docs/install-pi.md, step 1)
cat > "$r/etc/systemd/network/20-wired.network" <<'NET'
[Match]
Name=en* eth*

[Network]
DHCP=yes
MulticastDNS=yes
NET
systemctl --root="$r" enable systemd-networkd.service systemd-resolved.service systemd-timesyncd.service >/dev/null
ln -sf ../run/systemd/resolve/stub-resolv.conf "$r/etc/resolv.conf"
# nothing here waits for the network: a reader without a cable must still boot without a failed unit
systemctl --root="$r" disable systemd-networkd-wait-online.service >/dev/null 2>&1

# the boot partition: kernel, initramfs and the command line for this slot
kernel=$(ls "$r"/boot/vmlinuz-* | sort -V | tail -1)
initrd="$r/boot/initrd.img-${kernel##*/vmlinuz-}"
cmdline="root=PARTLABEL=system_a rauc.slot=A rootfstype=ext4 rootwait rw $CONSOLE consoleblank=0 quiet"
case $BOOT in
qemu)
    # QEMU loads these (-kernel, -initrd, -append); a firmware-less board's boot partition holds the same
    cp "$kernel" "$BOOT_DIR/vmlinuz"
    cp "$initrd" "$BOOT_DIR/initrd.img"
    echo "$cmdline" > "$BOOT_DIR/cmdline.txt"
    ;;
rpi)
    # raspi-firmware put the firmware, the kernel, the initramfs and config.txt in /boot/firmware; it writes them
    # again at each kernel update on the reader (into the mounted boot partition): the same root and console then
    printf '\n# mynareader image (image/layers/base/hook.sh)\nROOTPART="PARTLABEL=system_a"\nCONSOLES="%s"\n' \
        "$(echo "$CONSOLE" | sed 's/console=//g')" >> "$r/etc/default/raspi-firmware"
    echo "rauc.slot=A rootfstype=ext4 rootwait consoleblank=0 quiet" > "$r/etc/default/raspi-extra-cmdline"
    cp -r "$r"/boot/firmware/. "$BOOT_DIR/"
    echo "$cmdline" > "$BOOT_DIR/cmdline.txt"
    # the config partition: which boot partition starts (tryboot_a_b: docs/image.md, A/B updates)
    printf '[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n' > "$CONFIG_DIR/autoboot.txt"
    ;;
esac
rm -rf "${r:?}"/boot/firmware/*

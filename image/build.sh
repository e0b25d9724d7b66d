#!/bin/bash
# The reader image: image/build.sh PROFILE [OUT]   (make image PROFILE=...; docs/image.md)
#
# 1. The rootfs: Debian bookworm from the archive by mmdebstrap, with every layer's Debian packages
#    (image/layers/*/packages) and the profile's kernel. Cached as a directory named by a hash of everything that
#    goes into it (suite, architecture, package lists, this recipe's apt-stage hooks), so a change to the
#    project alone never rebuilds it: the cached tree is copied and the layers run on the copy.
# 2. The project: each layer's hook (base, reader, kiosk) adds its files to a copy of that rootfs.
# 3. The disk: genimage lays out the partitions (image/genimage/reader.cfg): config, boot_a, boot_b, system_a,
#    system_b, data. A manifest lists every package version, the wheels in the venv and the source commit.
# Needs root (mmdebstrap's root mode, file owners in the images) and, for arm64 on x86, qemu-user-static.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$here")
PROFILE=${1:?usage: image/build.sh PROFILE [OUT] (profiles: $(cd "$here/profiles" && ls | sed 's/\.conf$//' | xargs))}
OUT=$(realpath -m "${2:-$REPO/build/image}")
conf="$here/profiles/$PROFILE.conf"
[ -f "$conf" ] || { echo "image/build.sh: no profile '$PROFILE' (image/profiles/*.conf)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "image/build.sh: run as root (file owners in the image; mmdebstrap root mode)" >&2; exit 2; }
# shellcheck source=/dev/null
. "$conf"
SUITE=bookworm
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
LAYERS="base reader update kiosk"
# the keyring the image trusts for update bundles: a vendor's (RAUC_KEYRING=path, kept outside the repository),
# else a TEST CA made under OUT (image/pki.sh) that `make bundle` signs with by default
if [ -z "${RAUC_KEYRING:-}" ]; then
    "$here/pki.sh" "$OUT/rauc-test-pki"
    RAUC_KEYRING="$OUT/rauc-test-pki/ca.pem"
    echo "image/build.sh: this image trusts the TEST update CA in $OUT/rauc-test-pki (RAUC_KEYRING for a vendor's)"
fi
RAUC_KEYRING=$(realpath "$RAUC_KEYRING")
export REPO PROFILE ARCH CONSOLE CAMERA BOOT INITRAMFS_MODULES RAUC_KEYRING

started=$(date +%s)
step() { echo "image[$PROFILE] $(( $(date +%s) - started ))s: $*"; }

for tool in mmdebstrap genimage mke2fs mkfs.vfat mcopy; do
    command -v "$tool" >/dev/null || { echo "image/build.sh: $tool is missing: make image-tools" >&2; exit 2; }
done
if [ "$ARCH" != "$(dpkg --print-architecture)" ] && ! arch-test "$ARCH" >/dev/null 2>&1; then
    echo "image/build.sh: this machine cannot run $ARCH programs: make image-tools (qemu-user-static, binfmt)" >&2
    exit 2
fi

packages=$( (cat $(for l in $LAYERS; do echo "$here/layers/$l/packages"; done); echo "$PROFILE_PACKAGES") \
    | sed 's/#.*//' | tr -s ' \n' '\n' | sed '/^$/d' | sort -u)
sources="deb $MIRROR $SUITE $COMPONENTS
deb $MIRROR $SUITE-updates $COMPONENTS
deb $SECURITY_MIRROR $SUITE-security $COMPONENTS${EXTRA_SOURCES:+
$EXTRA_SOURCES}"
key=$( { echo "$SUITE $ARCH $COMPONENTS $INITRAMFS_MODULES"; echo "$sources"; echo "$packages";
         cat "$here"/hooks/*; } | sha256sum | cut -c1-16)
cache="$OUT/cache"
base="$cache/rootfs-$PROFILE-$key"
mkdir -p "$cache/debs-$ARCH"

if [ -d "$base" ]; then
    step "rootfs from the cache ($(basename "$base"))"
else
    step "rootfs: mmdebstrap $SUITE $ARCH, $(echo "$packages" | wc -l) packages and their dependencies"
    # the downloaded .debs are kept between builds (sync-in/sync-out), the rootfs tree once complete
    rm -rf "$base.partial"
    nice mmdebstrap --mode=root --variant=minbase --arch="$ARCH" --components="$COMPONENTS" \
        --include="$(echo "$packages" | paste -sd,)" \
        --aptopt='Acquire::Retries "3"' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/man/*' \
        --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
        --setup-hook="sync-in '$cache/debs-$ARCH' /var/cache/apt/archives/" \
        --essential-hook="$here/hooks/initramfs.sh" \
        --customize-hook="sync-out /var/cache/apt/archives '$cache/debs-$ARCH'" \
        "$SUITE" "$base.partial" - <<<"$sources"
    mv "$base.partial" "$base"
    # older rootfs trees of this profile are stale now
    find "$cache" -maxdepth 1 -name "rootfs-$PROFILE-*" ! -name "$(basename "$base")" -exec rm -rf {} +
fi

WORK="$OUT/$PROFILE"
ROOTFS="$WORK/rootfs"
export ROOTFS BOOT_DIR="$WORK/boot" DATA_DIR="$WORK/data" CONFIG_DIR="$WORK/config"
rm -rf "$WORK"
mkdir -p "$WORK" "$BOOT_DIR" "$DATA_DIR" "$CONFIG_DIR"
cp -a "$base" "$ROOTFS"

# in_root CMD...: run CMD inside the rootfs, with /proc, /dev and the host's DNS (where the image's
# /etc/resolv.conf points: base layer) and the build machine's CA bundle for pip (a proxy's CA stays out of the
# image), a clean environment, in a private mount namespace (the mounts go with it, even on failure)
in_root() {
    unshare --mount --propagation private -- sh -c '
        r=$1; shift
        mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" && mount -t tmpfs tmpfs "$r/run" &&
        mount -t sysfs sysfs "$r/sys" &&
        mkdir -p "$r/run/systemd/resolve" && cp -L /etc/resolv.conf "$r/run/systemd/resolve/stub-resolv.conf" &&
        cp -L /etc/ssl/certs/ca-certificates.crt "$r/run/build-ca.crt" &&
        exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 \
            PIP_CERT=/run/build-ca.crt REQUESTS_CA_BUNDLE=/run/build-ca.crt SSL_CERT_FILE=/run/build-ca.crt \
            ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} chroot "$r" "$@"
    ' in_root "$ROOTFS" "$@"
}
export -f in_root

for layer in $LAYERS; do
    step "layer $layer"
    "$here/layers/$layer/hook.sh"
done

step "manifest"
manifest="$WORK/manifest.txt"
{
    echo "# mynareader image $PROFILE ($ARCH), built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "source $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "rootfs $(basename "$base")"
    echo "$sources" | sed 's/^/apt-source /'
    chroot "$ROOTFS" dpkg-query -W -f='deb ${Package} ${Version} ${Architecture}\n'
    in_root /opt/mynareader/.venv/bin/python -m pip list --format=freeze --path /opt/mynareader/.venv/lib/python3.11/site-packages \
        | sed 's/^/wheel /'
} > "$manifest"
rm -rf "$ROOTFS/root/.cache"

step "file systems"
# each partition's file system is made from its directory (mke2fs -d, mtools: no loop devices), then genimage
# lays them out; the slots get the same size, the empty slot B is left for the first update to fill. Slot A's
# two images stay beside the disk: `make bundle` puts them in an update bundle (image/bundle.sh).
mib() { echo $(( ($(du -s --block-size=1M "$1" | cut -f1) * 13 / 10 + 64 + 63) / 64 * 64 )); }
system_mib=$(mib "$ROOTFS")
rm -f "$WORK"/*.ext4 "$WORK"/*.vfat
nice mke2fs -q -t ext4 -L system_a -d "$ROOTFS" -E root_owner=0:0 "$WORK/system_a.ext4" "${system_mib}M" >/dev/null
nice mke2fs -q -t ext4 -L data -d "$DATA_DIR" -E root_owner=0:0 "$WORK/data.ext4" "${DATA_MIB:-256}M" >/dev/null
vfat() {  # vfat NAME LABEL DIR MIB
    mkfs.vfat -n "$2" -C "$WORK/$1.vfat" $(( $4 * 1024 )) >/dev/null
    if [ -n "$(ls -A "$3")" ]; then mcopy -s -p -m -i "$WORK/$1.vfat" "$3"/* ::; fi
}
vfat config CONFIG "$CONFIG_DIR" 32
vfat boot_a BOOT_A "$BOOT_DIR" 256

step "disk image (genimage)"
# an EFI system partition where the profile boots by EFI (qemu-amd64: GRUB on it), else a basic data partition
config_type=${CONFIG_PART_TYPE:-ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}
sed -e "s|@SYSTEM_MIB@|$system_mib|g; s|@DATA_MIB@|${DATA_MIB:-256}|g; s|@CONFIG_TYPE@|$config_type|g" \
    "$here/genimage/reader.cfg" > "$WORK/genimage.cfg"
gtmp="$WORK/genimage-tmp"
rm -rf "$gtmp" && mkdir -p "$WORK/genimage-root"
nice genimage --config "$WORK/genimage.cfg" --rootpath "$WORK/genimage-root" --tmppath "$gtmp" \
    --inputpath "$WORK" --outputpath "$WORK" >"$WORK/genimage.log" 2>&1 \
    || { tail -30 "$WORK/genimage.log" >&2; exit 1; }
rm -rf "$gtmp" "$WORK/genimage-root" "$WORK/data.ext4" "$WORK/config.vfat"
step "done: $WORK/reader.img ($(du -h --apparent-size "$WORK/reader.img" | cut -f1)), $(grep -c '^deb ' "$manifest") packages in $manifest"

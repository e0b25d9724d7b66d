#!/bin/bash
# The update bundle: image/bundle.sh PROFILE [OUT]   (make bundle PROFILE=...; docs/image.md, A/B updates)
#
# A signed RAUC bundle (verity format) of the slot images the last `make image PROFILE=...` built (slot A's
# system.ext4 and boot.vfat, beside the disk) and the slot hook that makes them name the slot they are written
# into. The signer comes from outside the repository: RAUC_CERT and RAUC_KEY (a PEM file or a PKCS#11 URL,
# docs/fleet.md); without them, the TEST signer image/pki.sh made under OUT, which only a test image trusts.
# SYSTEM_IMAGE, BOOT_IMAGE (other slot images), BUNDLE (the output) and VERSION may be given too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$here")
PROFILE=${1:?usage: image/bundle.sh PROFILE [OUT]}
OUT=$(realpath -m "${2:-$REPO/build/image}")
WORK=$OUT/$PROFILE
SYSTEM_IMAGE=${SYSTEM_IMAGE:-$WORK/system_a.ext4}
BOOT_IMAGE=${BOOT_IMAGE:-$WORK/boot_a.vfat}
BUNDLE=$(realpath -m "${BUNDLE:-$WORK/update.raucb}")
VERSION=${VERSION:-$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)}
# lz4: quick to make and, more to the point, to read on the reader while RAUC writes the slot
MKSQUASHFS_ARGS=${MKSQUASHFS_ARGS:--comp lz4}

for f in "$SYSTEM_IMAGE" "$BOOT_IMAGE"; do
    [ -f "$f" ] || { echo "image/bundle.sh: no $f: make image PROFILE=$PROFILE first" >&2; exit 2; }
done
command -v rauc >/dev/null || { echo "image/bundle.sh: rauc is missing: make image-tools" >&2; exit 2; }
if [ -z "${RAUC_CERT:-}${RAUC_KEY:-}" ]; then
    "$here/pki.sh" "$OUT/rauc-test-pki"
    RAUC_CERT=$OUT/rauc-test-pki/signing.pem RAUC_KEY=$OUT/rauc-test-pki/signing.key
    echo "image/bundle.sh: signing with the TEST signer in $OUT/rauc-test-pki (RAUC_CERT, RAUC_KEY for a vendor's)"
fi
: "${RAUC_CERT:?RAUC_CERT and RAUC_KEY go together}" "${RAUC_KEY:?RAUC_CERT and RAUC_KEY go together}"

content=$(mktemp -d "$WORK/bundle-content.XXXXXX")
trap 'rm -rf "$content"' EXIT
ln "$SYSTEM_IMAGE" "$content/system.ext4" 2>/dev/null || cp --sparse=always "$SYSTEM_IMAGE" "$content/system.ext4"
ln "$BOOT_IMAGE" "$content/boot.vfat" 2>/dev/null || cp "$BOOT_IMAGE" "$content/boot.vfat"
install -m 755 "$here/files/update/slot-hook" "$content/slot-hook"
cat > "$content/manifest.raucm" <<MANIFEST
[update]
compatible=mynareader-$PROFILE
version=$VERSION
description=mynareader $PROFILE $VERSION

[bundle]
format=verity

[hooks]
filename=slot-hook

[image.system]
filename=system.ext4
hooks=post-install

[image.boot]
filename=boot.vfat
hooks=post-install
MANIFEST
rm -f "$BUNDLE"
started=$(date +%s)
nice rauc bundle --cert="$RAUC_CERT" --key="$RAUC_KEY" --mksquashfs-args="$MKSQUASHFS_ARGS" \
    "$content" "$BUNDLE" >"$BUNDLE.log" 2>&1 || { tail -20 "$BUNDLE.log" >&2; exit 1; }
# checked as the image checks it (its keyring and purpose), when the image trusts this signer: RAUC_KEYRING
keyring=${RAUC_KEYRING:-}
[ -n "$keyring" ] || [ "$RAUC_CERT" != "$OUT/rauc-test-pki/signing.pem" ] || keyring=$OUT/rauc-test-pki/ca.pem
if [ -n "$keyring" ]; then
    printf '[system]\ncompatible=mynareader-%s\nbootloader=noop\n[keyring]\npath=%s\ncheck-purpose=codesign\n' \
        "$PROFILE" "$(realpath "$keyring")" > "$content/check.conf"
    rauc --conf="$content/check.conf" info "$BUNDLE" >/dev/null 2>"$BUNDLE.check" \
        || { cat "$BUNDLE.check" >&2; echo "image/bundle.sh: $BUNDLE does not verify against $keyring" >&2; exit 1; }
    rm -f "$BUNDLE.check"
fi
echo "image/bundle.sh: $BUNDLE ($(du -h --apparent-size "$BUNDLE" | cut -f1), version $VERSION) in $(( $(date +%s) - started )) s"

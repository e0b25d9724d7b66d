# The two set-up commands of README.md: `make demo` and `make test`. Each installs what it needs first, and no more:
# `make demo` the reader's runtime (Debian packages and Python dependencies), `make test` adds what only the
# tests use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What the reader needs to run, and so the demo: pcscd and vsmartcard's vpcd (cards through PC/SC; the virtual
# card on the real pcscd), gcc, libpcsclite-dev, swig and pkg-config to build pyscard (PyPI has no Linux wheel
# of it), python3-venv/-dev for the virtual environment, and a Japanese font for the demo's synthetic card fronts
# (device/mock/card_face_render.py).
RUNTIME_PACKAGES := pcscd vsmartcard-vpcd gcc libpcsclite-dev swig pkg-config python3-venv python3-dev \
	fonts-ipaexfont-gothic
# What only the tests use: OpenSC for the interoperability tests; systemd for `systemd-analyze verify`, and cage
# because it checks that the touchscreen unit's program exists; more card-face fonts (fonts-noto-cjk); Debian's
# chromium and BIZ UD Gothic for the patient's page in the browser tests (Playwright drives this chromium); mono,
# the JDK and Node.js for the client examples in docs/examples; grub-editenv (grub-common) for the A/B boot
# selection's tests on the QEMU image's GRUB environment (tests/test_rauc_bootloader.py).
TEST_PACKAGES := opensc systemd fonts-noto-cjk chromium fonts-morisawa-bizud-gothic cage \
	mono-devel openjdk-17-jdk-headless nodejs grub-common
# Voice guidance (daemon/voice), tested with the patient's page: Open JTalk with its dictionary and a voice for
# Japanese, flite for English (espeak-ng, the other English engine, for its tests). The Japanese voice is in
# Debian's contrib component: it is enabled when the voice has no install candidate. On a Pi: docs/install-pi.md.
VOICE_PACKAGES := open-jtalk open-jtalk-mecab-naist-jdic hts-voice-nitech-jp-atr503-m001 flite espeak-ng
CONTRIB_PACKAGE := hts-voice-nitech-jp-atr503-m001
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test typecheck bench system system-test venv venv-dev clean image image-tools image-test \
	image-display-test image-arm64-test bundle image-update-test

demo: venv
	$(BIN)/mynareader demo

test: venv-dev typecheck
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# mypy over device/ and daemon/ ([tool.mypy] in pyproject.toml): zero errors, or the tests do not run
typecheck: venv-dev
	$(BIN)/python -m mypy

bench: venv-dev
	$(BIN)/mynareader bench card --reader sim://fresh
	$(BIN)/mynareader bench face
	$(BIN)/mynareader bench session
	$(BIN)/mynareader bench cardface
	$(BIN)/mynareader voice bench

# apt-get install of the packages in $(1) that are missing (one update first, only when something is missing)
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -q || exit 1; \
		if echo "$$missing" | grep -qx '$(CONTRIB_PACKAGE)' && \
				! apt-cache policy $(CONTRIB_PACKAGE) | grep -q 'Candidate: [0-9]'; then \
			$(SUDO) $(PYTHON) systemd/apt_contrib.py /etc/apt && $(SUDO) apt-get update -q || exit 1; \
		fi; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

system:
	$(call apt_install,$(RUNTIME_PACKAGES))

system-test:
	$(call apt_install,$(RUNTIME_PACKAGES) $(TEST_PACKAGES) $(VOICE_PACKAGES))

# the runtime dependencies ([project] dependencies); the test tools come with the dev extras
venv: system $(VENV)/.installed

venv-dev: system-test $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info

# The reader image (docs/image.md): `make image` builds the Raspberry Pi 4 image, `make image PROFILE=qemu-amd64`
# (or qemu-arm64) the same system for QEMU; build/image/PROFILE/reader.img and its manifest. Needs root: mmdebstrap
# in root mode, and the owners of the image's files. The base rootfs is cached in build/image/cache.
PROFILE ?= rpi4
IMAGE_TOOLS := mmdebstrap genimage e2fsprogs dosfstools mtools qemu-utils qemu-system-x86 qemu-system-arm \
	qemu-user-static binfmt-support arch-test rauc squashfs-tools grub-efi-amd64-bin ovmf
IMAGE_DIR := build/image

image-tools:
	$(call apt_install,$(IMAGE_TOOLS))
	@# arm64 programs run under qemu-user when an arm64 rootfs is built on x86 (not needed for qemu-amd64: where
	@# binfmt_misc cannot be mounted, image/build.sh says so only for an arm64 profile)
	@mountpoint -q /proc/sys/fs/binfmt_misc || $(SUDO) mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
		2>/dev/null || true
	@$(SUDO) update-binfmts --enable qemu-aarch64 2>/dev/null || true

# MIRROR, SECURITY_MIRROR (Debian archive URLs), PIN_WHEELS (an earlier manifest), RPI_KEYRING (the rpi5
# profile) and RAUC_KEYRING (the vendor's update-signing CA; else a TEST CA under build/image) pass through
image: image-tools
	$(SUDO) env $(foreach v,MIRROR SECURITY_MIRROR PIN_WHEELS RPI_KEYRING RAUC_KEYRING,$(if $($(v)),$(v)=$($(v)))) \
		image/build.sh $(PROFILE) $(IMAGE_DIR)

# a signed RAUC update bundle of the last `make image PROFILE=...`: build/image/PROFILE/update.raucb. The signer
# from outside the repository: RAUC_CERT and RAUC_KEY (PEM files or PKCS#11 URLs); else the TEST signer.
bundle:
	$(SUDO) env $(foreach v,RAUC_CERT RAUC_KEY RAUC_KEYRING VERSION BUNDLE,$(if $($(v)),$(v)=$($(v)))) \
		image/bundle.sh $(PROFILE) $(IMAGE_DIR)

# the boot test: the qemu-amd64 image under QEMU (TCG), bench devices passed at boot (tests/test_image.py)
image-test: venv-dev
	$(MAKE) image PROFILE=qemu-amd64
	MYNAREADER_IMAGE=$(IMAGE_DIR)/qemu-amd64 $(BIN)/python -m pytest -q -m image -k "not display and not arm64" \
		tests/test_image.py

# the patient's screen on a virtio-gpu display: cage + chromium, a QMP screendump (build/image/qemu-amd64/kiosk-screen.png)
image-display-test: venv-dev
	$(MAKE) image PROFILE=qemu-amd64
	MYNAREADER_IMAGE=$(IMAGE_DIR)/qemu-amd64 MYNAREADER_IMAGE_DISPLAY=1 $(BIN)/python -m pytest -q -m image \
		-k display tests/test_image.py

# A/B updates in the qemu-amd64 image under OVMF (tests/test_image_update.py): a good update, a bundle with a bad
# signature, power lost mid-install, a bad update that rolls back, a hung try reset by the watchdog. Root: it
# makes bundles in the image's build directory. About 80 minutes under TCG on a 2-core machine (three installs).
image-update-test: venv-dev
	$(MAKE) image PROFILE=qemu-amd64
	$(MAKE) bundle PROFILE=qemu-amd64
	$(SUDO) env MYNAREADER_IMAGE=$(IMAGE_DIR)/qemu-amd64 $(BIN)/python -m pytest -q -m image tests/test_image_update.py

# the arm64 system (the Pi 4's packages and kernel) on QEMU's virt machine: multi-user with the daemon active
image-arm64-test: venv-dev
	$(MAKE) image PROFILE=qemu-arm64
	MYNAREADER_IMAGE=$(IMAGE_DIR)/qemu-amd64 MYNAREADER_IMAGE_ARM64=$(IMAGE_DIR)/qemu-arm64 $(BIN)/python -m pytest \
		-q -m image -k arm64 tests/test_image.py

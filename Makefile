# The two set-up commands of README.md: `make demo` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages: pcscd + vpcd for the virtual reader, OpenSC for the interoperability tests,
# libpcsclite-dev/swig to build pyscard, python3-venv/-dev for the virtual environment,
# Japanese fonts for the synthetic card faces (device/mock/card_face_render.py); chromium and BIZ UD Gothic for the
# patient's touchscreen page (daemon/kiosk_web) and its browser tests (Playwright drives this chromium);
# cage because `systemd-analyze verify` checks that the touchscreen unit's program exists.
APT_PACKAGES := pcscd vsmartcard-vpcd opensc libpcsclite-dev swig pkg-config python3-venv python3-dev systemd \
	fonts-ipaexfont-gothic fonts-noto-cjk chromium fonts-morisawa-bizud-gothic \
	mono-devel openjdk-17-jdk-headless nodejs cage
# Voice guidance (daemon/voice): Open JTalk with its dictionary and a voice for Japanese, flite for English
# (espeak-ng, the other English engine, for its tests). The Japanese voice is in Debian's contrib component:
# `system` enables contrib when the voice has no install candidate.
VOICE_PACKAGES := open-jtalk open-jtalk-mecab-naist-jdic hts-voice-nitech-jp-atr503-m001 flite espeak-ng
CONTRIB_PACKAGE := hts-voice-nitech-jp-atr503-m001
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test typecheck bench system venv clean

demo: venv
	$(BIN)/mynareader demo

test: venv typecheck
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# mypy over device/ and daemon/ ([tool.mypy] in pyproject.toml): zero errors, or the tests do not run
typecheck: venv
	$(BIN)/python -m mypy

bench: venv
	$(BIN)/mynareader bench card --reader sim://fresh
	$(BIN)/mynareader bench face
	$(BIN)/mynareader bench session
	$(BIN)/mynareader bench cardface
	$(BIN)/mynareader voice bench

system:
	@missing=$$(for p in $(APT_PACKAGES) $(VOICE_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -q || exit 1; \
		if echo "$$missing" | grep -qx '$(CONTRIB_PACKAGE)' && \
				! apt-cache policy $(CONTRIB_PACKAGE) | grep -q 'Candidate: [0-9]'; then \
			$(SUDO) $(PYTHON) systemd/apt_contrib.py /etc/apt && $(SUDO) apt-get update -q || exit 1; \
		fi; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv: system $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info

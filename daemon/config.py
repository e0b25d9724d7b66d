"""Layered configuration: built-in defaults -> /etc/mynareader/mynareader.toml -> environment -> command line.

One loader for every section, ``[policy]`` included (its dataclass lives with the flow it governs): an unknown
section or key, or a value of the wrong type, is an error that names the key and what is allowed; a section with
a ``check()`` (ranges, combinations) is checked once it is built. Environment variables are MYNAREADER_<SECTION>_<KEY> (e.g. MYNAREADER_DEVICES_READER=pcsc://);
the command line takes ``--set section.key=value``.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from pathlib import Path
from typing import Any

from .reception.errors import PolicyError
from .reception.policy import Policy
from .errors import ConfigError

DEFAULT_FILE = "/etc/mynareader/mynareader.toml"


@dataclasses.dataclass(frozen=True)
class Devices:
    # keys named for the device registry's kinds (device/registry.py); `mynareader --help` lists the URLs
    reader: str = "pcsc://"
    camera: str = "v4l2:///dev/video0"      # replay://DIR?fps=N on a bench, picamera2://0 on a Pi camera
    cardface: str = "none"                  # where 照合番号B comes from: none | camera URL | sim | control:PATH
    phone_reader: str = ""                  # a second reader for smartphones beside the card reader; "" none


@dataclasses.dataclass(frozen=True)
class Sockets:
    reception: str = "/run/mynareader/reception.sock"
    kiosk: str = "/run/mynareader/kiosk.sock"
    reception_group: str = ""               # e.g. mynareader-reception; empty: leave the group as created
    kiosk_group: str = ""
    mode: str = "0660"


@dataclasses.dataclass(frozen=True)
class Limits:
    max_message: int = 65536
    rate_per_second: float = 50.0
    max_connections: int = 256


@dataclasses.dataclass(frozen=True)
class State:
    directory: str = "/var/lib/mynareader"
    marker: str = ""        # outside the directory; "" = beside it, <directory>.store-id (daemon/store.py)

    @property
    def marker_path(self) -> str:
        return self.marker or self.directory.rstrip("/") + ".store-id"


@dataclasses.dataclass(frozen=True)
class Face:
    model: str = ""                         # empty: the manifest's default model
    threshold: float = 0.0                  # 0: the model's own threshold
    worker_deadline: float = 10.0           # seconds the native worker may take for one frame before it is
                                            # stopped and restarted (that attempt ends; no try is spent)


@dataclasses.dataclass(frozen=True)
class Consent:
    catalogue: str = ""                     # empty: the built-in catalogue


@dataclasses.dataclass(frozen=True)
class Bench:
    control: str = ""                       # a Unix socket steering the bench camera and sim:// card; empty: off


@dataclasses.dataclass(frozen=True)
class Network:
    """TCP with mutual TLS for a reception PC that is not the Pi (docs/protocol.md, "Network transport")."""
    listen: str = ""                        # "" = off; HOST:PORT, e.g. 0.0.0.0:7443 or [::]:7443
    ca: str = "/etc/mynareader/tls/ca.pem"
    cert: str = "/etc/mynareader/tls/server.pem"
    key: str = "/etc/mynareader/tls/server.key"
    crl: str = "/etc/mynareader/tls/crl.pem"
    min_tls: str = "1.3"                    # "1.2" only for clients that lack 1.3 (Windows 10, mono)
    handshake_timeout: float = 10.0


@dataclasses.dataclass(frozen=True)
class Metrics:
    """Fleet metrics in the Prometheus text format (daemon/service/metrics.py)."""
    textfile: str = ""                      # "" = off; e.g. /var/lib/prometheus/node-exporter/mynareader.prom
    interval: float = 15.0                  # seconds between rewrites of the textfile


@dataclasses.dataclass(frozen=True)
class Logging:
    level: str = "info"


@dataclasses.dataclass(frozen=True)
class Config:
    devices: Devices = Devices()
    sockets: Sockets = Sockets()
    limits: Limits = Limits()
    state: State = State()
    face: Face = Face()
    consent: Consent = Consent()
    logging: Logging = Logging()
    bench: Bench = Bench()
    network: Network = Network()
    policy: Policy = Policy()
    metrics: Metrics = Metrics()

    @property
    def socket_mode(self) -> int:
        return int(self.sockets.mode, 8)


_CHOICES = {("logging", "level"): ("debug", "info", "warning", "error"), ("network", "min_tls"): ("1.2", "1.3")}


def _coerce(section: str, key: str, value: Any, kind: type, source: str) -> Any:
    where = f"{section}.{key} (from {source})"
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError
                value = value.lower() in ("1", "true", "yes")
            elif not isinstance(value, bool):
                raise ValueError
        elif kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            value = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError
            value = float(value)
        elif kind is str:
            if not isinstance(value, str):
                raise ValueError
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from None
    choices = _CHOICES.get((section, key))
    if choices and value not in choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(choices)}")
    if section == "devices":       # the device registry knows every scheme; nothing is imported to check
        from ..device.registry import url_problem
        problem = None if (key, value) == ("phone_reader", "") else \
            url_problem("reader" if key == "phone_reader" else key, value)
        if problem:
            raise ConfigError(f"{where}: {problem}")
    if (section, key) == ("sockets", "mode"):
        try:
            mode = int(value, 8)
        except ValueError:
            raise ConfigError(f"{where}: an octal file mode like 0660, got {value!r}") from None
        if mode & 0o007:
            raise ConfigError(f"{where}: {value} lets every local user reach the socket; use 0660 or stricter")
    if (section, key) == ("network", "listen") and value:
        from .rpc.tls import parse_listen
        try:
            parse_listen(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    if (section, key) == ("face", "worker_deadline") and not 0 < value <= 120:
        raise ConfigError(f"{where}: between 0 and 120 seconds, got {value}")
    if (section, key) == ("network", "handshake_timeout") and not 0 < value <= 120:
        raise ConfigError(f"{where}: between 0 and 120 seconds, got {value}")
    if (section, key) == ("metrics", "interval") and not 1 <= value <= 3600:
        raise ConfigError(f"{where}: between 1 and 3600 seconds, got {value}")
    return value


SECTIONS: dict[str, type] = {"devices": Devices, "sockets": Sockets, "limits": Limits, "state": State,
                             "face": Face, "consent": Consent, "logging": Logging, "bench": Bench,
                             "network": Network, "policy": Policy, "metrics": Metrics}


def _merge(layers: dict[str, dict[str, Any]], data: dict, source: str) -> None:
    for section, values in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown section [{section}] in {source}; allowed: {', '.join(SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] in {source} must be a table of keys")
        kinds = typing.get_type_hints(SECTIONS[section])
        for key, value in values.items():
            if key not in kinds:
                raise ConfigError(f"unknown key {section}.{key} in {source}; allowed: {', '.join(kinds)}")
            layers.setdefault(section, {})[key] = _coerce(section, key, value, kinds[key], source)


def load(path: str | None = None, environ: dict[str, str] | None = None,
         overrides: list[str] | None = None) -> Config:
    """Build the configuration. ``path`` None means the default file if it exists; a given path must exist."""
    layers: dict[str, dict[str, Any]] = {}
    file = Path(path or DEFAULT_FILE)
    if path or file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"the configuration file {file} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file} is not valid TOML: {exc}") from None
        _merge(layers, data, str(file))
    env = os.environ if environ is None else environ
    from_env: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        if name.startswith("MYNAREADER_") and name.count("_") >= 2 and name not in _ENV_NOT_CONFIG:
            section, _, key = name[len("MYNAREADER_"):].lower().partition("_")
            from_env.setdefault(section, {})[key] = value
    _merge(layers, from_env, "the environment")
    for item in overrides or []:
        dotted, sep, value = item.partition("=")
        section, dot, key = dotted.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(f"--set takes section.key=value, got {item!r}")
        _merge(layers, {section: {key: value}}, "the command line")
    sections = {name: cls(**layers.get(name, {})) for name, cls in SECTIONS.items()}
    for section in sections.values():
        try:
            getattr(section, "check", lambda: None)()
        except PolicyError as exc:
            raise ConfigError(str(exc)) from None
    return Config(**sections)


# environment variables of the project that are not configuration keys
_ENV_NOT_CONFIG = {"MYNAREADER_MOCK_STATE", "MYNAREADER_HW_READER"}

"""Errors of the service layer (daemon/ itself; the sub-packages have their own: face/errors.py,
cardface/errors.py, reception/errors.py, rpc/errors.py; the device layer's are device/errors.py).

    ServiceError
     ├── ConfigError           a configuration file, variable or --set that cannot be used (config.py)
     ├── StoreError            the state store cannot be trusted; identity checks stop (store.py)
     └── PkiError              a TLS certificate task a clinic's IT person can fix (rpc/tls_pki.py)

Each message is worded for the person who can fix it; the command line (cli/__main__.py) and the protocol
(service/protocol.py -> rpc/errors.py) convert them at their boundary.
"""
from __future__ import annotations


class ServiceError(Exception):
    """Base of the service layer's own errors."""


class ConfigError(ServiceError, ValueError):
    pass


class StoreError(ServiceError):
    """The store cannot be trusted; identity checks must stop until staff repair it."""

    advice = ("The reader's state store cannot be read. Identity checks are paused so no card lock is lifted "
              "by mistake; ask your IT contact to check the state directory (docs/install-pi.md, 'The state "
              "store').")


class PkiError(ServiceError, ValueError):
    """Something a clinic's IT person can fix (said in words, no traceback)."""

"""Every error the reception layer raises, as class statements (python-can's and httpx's habit).

    ReceptionError
     ├── Rejected          an input the flow does not take now: not in the table for this state, or refused by
     │                     policy or by the session so far (the protocol answers WrongStep)
     ├── InvalidEvent      an event that could never be valid, refused when it is built (messages.py); the
     │   (ValueError)      service answers as it did when the handlers checked it (WrongStep, or InvalidParams
     │                     for a parameter it decodes itself)
     ├── StrayTransition   a handler left the machine in a state its table row does not name: a bug in the
     │                     flow, never the patient's doing (no protocol error; the hypothesis tests catch it)
     ├── PolicyError       a [policy] value that is unknown or out of range (policy.py)
     │   (ValueError)
     └── CatalogueError    a consent catalogue that cannot be used (consent.py)
         (ValueError)

The store's own StoreError (daemon/store.py) is not one of these: the machine turns it into its StoreFailed
event, which ends the session (transitions.py).
"""
from __future__ import annotations


class ReceptionError(Exception):
    """The root of the reception layer's errors."""


class Rejected(ReceptionError):
    """An input that the flow does not take now (wrong step, not permitted by policy)."""


class InvalidEvent(ReceptionError, ValueError):
    """An event whose fields could never be valid (a PIN of the wrong shape, tries out of range, an unknown
    method or answer); raised by the event's own constructor."""


class StrayTransition(ReceptionError):
    """A handler moved the machine outside the targets of its row in the transition table."""


class PolicyError(ReceptionError, ValueError):
    """A policy value that is unknown or out of range."""


class CatalogueError(ReceptionError, ValueError):
    """A consent catalogue that is missing fields or contradicts itself."""

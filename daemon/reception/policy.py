"""The numbers that protect a patient's card and the reader, as one frozen value a config file can fill.

Defaults are documented in docs/flow.md. The configuration loader (daemon/config.py, section ``[policy]``) fills
it strictly, so a typo in /etc never silently loosens a rule; ``check`` holds the ranges.
"""
from __future__ import annotations

import dataclasses

from .certificate_state import CertificatePolicy
from .errors import PolicyError


@dataclasses.dataclass(frozen=True)
class Policy:
    face_tries_per_session: int = 3        # face verdicts that may fail before PIN or staff is offered
    code_b_floor: int = 3                  # never VERIFY 照合番号B when the card has this many tries or fewer
    refuse_last_pin_try: bool = False      # True: on the last PIN try send the patient to staff instead
    max_pin_failures_per_session: int = 2  # wrong PINs one session may cause before it sends the patient to staff
    face_lock_sessions: int = 3            # failed face sessions for one card within the window ...
    face_lock_window_hours: float = 24.0   # ... refuse face for that card until staff lift it
    slowdown_cards: int = 5                # failures on this many different cards within the window ...
    slowdown_window_minutes: float = 10.0  # ... make the reader wait before the next identity check
    slowdown_seconds: float = 30.0
    idle_timeout_seconds: float = 120.0    # a patient idle this long: the session ends
    renewal_months: int = 3
    grace_months: int = 3
    grace_from_month_end: bool = True
    ask_prescription_form: bool = False    # ask 紙/電子 prescription after consent
    liveness: bool = True                  # presentation-attack check before a face match counts; off logs a warning

    @property
    def certificates(self) -> CertificatePolicy:
        return CertificatePolicy(self.renewal_months, self.grace_months, self.grace_from_month_end)

    def check(self) -> None:
        if not 1 <= self.face_tries_per_session <= 10:
            raise PolicyError("policy.face_tries_per_session: 1 to 10")
        if not 1 <= self.code_b_floor <= 9:
            raise PolicyError("policy.code_b_floor: 1 to 9 (of 照合番号B's 10 tries)")
        if not 1 <= self.max_pin_failures_per_session <= 2:
            raise PolicyError("policy.max_pin_failures_per_session: 1 or 2 (3 would lock a fresh card)")
        for key in ("face_lock_sessions", "slowdown_cards"):
            if getattr(self, key) < 1:
                raise PolicyError(f"policy.{key}: at least 1")
        for key in ("face_lock_window_hours", "slowdown_window_minutes", "slowdown_seconds",
                    "idle_timeout_seconds"):
            if getattr(self, key) <= 0:
                raise PolicyError(f"policy.{key}: a positive number")


"""A bench reader slot: holds at most one virtual card and obeys the control channel's commands.

The vpcd bridge and the PN532 emulator each host one slot; tests steer it with one-line commands:

    insert PROFILE     put a card of that profile in the slot (counters come from the state directory)
    remove             take the card away
    set-tries N [pin|sign|code_b]   set a counter on the card in the slot (default: the user-auth PIN)
    fail SW            the next APDU answers this status word (hex, e.g. 6F00) without reaching the card
    pull-after N       the card is pulled after answering N more APDUs (mid-read removal)
    status             one line: profile and counters, or "empty"
    card-face          the 照合番号B printed on the card in the slot (the bench's card-face scanner)
    chain N            the card answers T=0 style: at most N data bytes at a time, the rest by GET RESPONSE
                       (61xx); 0 turns it off
    exact-le on|off    a READ BINARY asking past the end of the file answers 6Cxx (the exact length)
    unlock [SECONDS]   the phone in the slot is unlocked (Face ID) for SECONDS (default 30): the iPhone profile
                       serves its certificate and signs only meanwhile
    lock               the phone locks again
"""
from __future__ import annotations

import collections

import threading
import time
from pathlib import Path
from typing import Callable

from .profiles import PROFILES
from .virtual_card import VirtualCard


class NoCardPresent(Exception):
    pass


class CardPulled(Exception):
    """The card left the field during this exchange."""


EXCHANGES_KEPT = 4096


class CardSlot:
    def __init__(self, state_dir: Path, profile: str | None = None):
        self.state_dir = Path(state_dir)
        self.card: VirtualCard | None = None
        self._fail_next: int | None = None
        self._pull_after: int | None = None
        self._hang: float | None = None
        self.generation = 0      # counts insertions and removals: a fast swap still changes it
        self._reset_next = False
        self._subscribers: list[Callable[[bool], None]] = []
        self._lock = threading.RLock()
        # what the card saw and answered, for tests (VERIFY data included: these are test secrets); bounded, so a
        # bench left running for days does not grow (about 4.6 KB per reception)
        self.exchanges: collections.deque[tuple[bytes, bytes]] = collections.deque(maxlen=EXCHANGES_KEPT)
        self.apdus = 0          # every APDU the card answered, for fault tests that pull at each position
        if profile:
            self.insert(profile)

    @property
    def present(self) -> bool:
        return self.card is not None

    @property
    def apdu_log(self) -> list[bytes]:
        return [command for command, _ in self.exchanges]

    def subscribe(self, callback: Callable[[bool], None]) -> None:
        self._subscribers.append(callback)

    def _notify(self) -> None:
        for cb in list(self._subscribers):
            cb(self.present)

    def insert(self, profile: str) -> None:
        with self._lock:
            self._place(profile)
        self._notify()

    def remove(self) -> None:
        """Faults armed now (fail, pull-after, hang) apply to the next card placed, so tests can pull it at any
        APDU from the very first."""
        with self._lock:
            self._take_off()
        self._notify()

    def swap(self, profile: str) -> None:
        """One card off and another on between two looks: watchers never see the slot empty."""
        if profile not in PROFILES:       # refused before the card in the slot is touched
            raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
        with self._lock:
            self._take_off()
            self._place(profile)
        self._notify()

    def _place(self, profile: str) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
        self.card = VirtualCard(profile, self.state_dir)
        self.generation += 1

    def _take_off(self) -> None:
        self.card = None
        self._pull_after = self._fail_next = self._hang = None
        self.generation += 1

    def power_on(self) -> bytes:
        with self._lock:
            if self.card is None:
                raise NoCardPresent()
            self.card.power_off()  # a cold reset clears the verified state
            return self.card.atr

    def power_off(self) -> None:
        with self._lock:
            if self.card is not None:
                self.card.power_off()

    def process(self, apdu: bytes) -> bytes:
        with self._lock:
            if self.card is None:
                raise CardPulled()
            if self._reset_next:          # another program reset the card: this APDU is lost, the card stays
                self._reset_next = False
                self.card.power_off()
                raise CardPulled()
            if self._pull_after is not None:
                if self._pull_after <= 0:
                    self._pull_after = None
                    self.card = None
                    self.generation += 1
                    pulled = True
                else:
                    self._pull_after -= 1
                    pulled = False
                if pulled:
                    self._notify()
                    raise CardPulled()
            if self._hang is not None:      # a card that stops answering: the APDU never comes back in time
                delay, self._hang = self._hang, None
                self._lock.release()
                try:
                    time.sleep(delay)
                finally:
                    self._lock.acquire()
            if self._fail_next is not None:
                status, self._fail_next = self._fail_next, None
                response = status.to_bytes(2, "big")
            elif self.card is None:     # pulled while this exchange waited for the lock
                raise CardPulled()
            else:
                response = self.card.process(apdu)
            self.exchanges.append((bytes(apdu), response))
            self.apdus += 1
            return response

    def control(self, line: str) -> str:
        """Run one control command; returns a one-line reply starting with ``ok`` or ``error``."""
        words = line.split()
        if not words:
            return "error empty command"
        verb, args = words[0], words[1:]
        try:
            if verb == "insert" and len(args) == 1:
                self.insert(args[0])
            elif verb == "remove" and not args:
                self.remove()
            elif verb == "set-tries" and len(args) in (1, 2):
                if self.card is None:
                    return "error no card in the slot"
                which = args[1] if len(args) == 2 else "pin"
                if which not in ("pin", "sign", "code_b"):
                    return f"error unknown counter {which!r}; use pin, sign or code_b"
                self.card.set_tries(int(args[0]), which)
            elif verb == "chain" and len(args) == 1 and args[0].isdigit():
                if self.card is None:
                    return "error no card in the slot"
                self.card.chain = int(args[0])
            elif verb == "exact-le" and args in (["on"], ["off"]):
                if self.card is None:
                    return "error no card in the slot"
                self.card.exact_le = args[0] == "on"
            elif verb in ("unlock", "lock") and len(args) <= (1 if verb == "unlock" else 0):
                if self.card is None or self.card.profile.gate != "unlock":
                    return "error no phone that unlocks in the slot"
                if verb == "lock":
                    self.card.lock()
                else:
                    self.card.unlock(*(float(a) for a in args))
            elif verb == "fail" and len(args) == 1:
                self._fail_next = int(args[0], 16)
            elif verb == "swap" and len(args) == 1:
                self.swap(args[0])
            elif verb == "reset" and not args:
                self._reset_next = True
            elif verb == "hang" and len(args) == 1:
                self._hang = float(args[0])
            elif verb == "pull-after" and len(args) == 1:
                self._pull_after = int(args[0])
            elif verb == "status" and not args:
                return "ok " + self.status()
            elif verb == "apdus" and not args:
                return f"ok {self.apdus}"
            elif verb == "card-face" and not args:
                code = getattr(self.card, "code_b", None)
                return f"ok {code}" if code else "error no card with a printed face in the slot"
            else:
                return f"error unknown command {line.strip()!r}"
        except ValueError as exc:
            return f"error {exc}"
        return "ok"

    def status(self) -> str:
        if self.card is None:
            return "empty"
        counters = " ".join(f"{k}={v}" for k, v in self.card.counters.values.items())
        return f"{self.card.profile.name} {counters}"

"""What may be spoken. A PIN digit is announced as "one digit entered", never its value.

The guard: :class:`~mynareader.daemon.voice.speaker.Speaker` caches what it synthesises, in memory and in a runtime
directory, and the audio of a number is as telling as the number. So the speaker refuses any text holding what
looks like a PIN or a card number - four or more digits in a row, ASCII or full-width, also when they are spaced
or punctuated one by one ("1 2 3 4", "1、2、3、4") - rather than trusting every caller never to pass one. The
guidance texts (daemon/reception/texts.py) hold at most one digit at a time ("4桁", "1回"); a test checks that
each of them passes.
"""
from __future__ import annotations

import re

# 4+ digits, each separated from the next by nothing or by spaces / light punctuation only
_PIN_LIKE = re.compile(r"\d(?:[\s,.、。・\-ー－]*\d){3,}")

_ENTERED = {"ja": "1桁入力しました。", "en": "One digit entered."}
_DELETED = {"ja": "1桁消しました。", "en": "One digit deleted."}


class PinLikeText(ValueError):
    """The text holds a run of digits that could be a PIN: it is neither synthesised nor cached."""


def refuse_pin_like(text: str) -> None:
    if _PIN_LIKE.search(text):
        raise PinLikeText("voice guidance refuses text with four or more digits in a row (it could be a PIN); "
                          "announce a PIN digit with digit_entered(lang), never its value")


def digit_entered(lang: str) -> str:
    """The phrase spoken when the patient enters one PIN digit."""
    return _ENTERED[lang]


def digit_deleted(lang: str) -> str:
    """The phrase spoken when the patient deletes one PIN digit."""
    return _DELETED[lang]

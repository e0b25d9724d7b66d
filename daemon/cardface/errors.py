"""Errors of the card-face layer (daemon/cardface/): reading 照合番号B from a photo of the card's front.

    CardFaceError
     ├── OcrUnavailable   the OCR engine cannot run here: package missing, or models not the pinned ones (ocr.py)
     └── FieldError       the text does not give a field (missing, or not a real date); the message is a reason
                          code (fields.py)

An uncertain read is not an error: it is a result (reader.py) that sends nothing to the card.
"""
from __future__ import annotations


class CardFaceError(Exception):
    """Base of everything the card-face layer raises."""


class OcrUnavailable(CardFaceError, RuntimeError):
    """The OCR engine cannot run here (package missing, or models not the pinned ones)."""


class FieldError(CardFaceError, ValueError):
    """The text does not give a field (missing, or not a real date). The message is a reason code."""

"""The card layer on a real reader and card: runs only with MYNAREADER_HW_READER=URL (e.g. pcsc://).

It reads and queries only: no PIN is ever submitted to a real card by the test suite.
"""
import os

import pytest

from mynareader.device.card import MyNumberCard, TokenKind
from mynareader.device.registry import open_reader

pytestmark = pytest.mark.hardware


def test_real_card_certificate_and_tries():
    transport = open_reader(os.environ["MYNAREADER_HW_READER"])
    try:
        assert transport.card_present() or transport.wait_for_change(False, 30), "place a card on the reader"
        card = MyNumberCard(transport)
        card.connect()
        assert card.token() is not TokenKind.UNKNOWN
        cert = card.auth_certificate()
        assert cert.der[:2] == b"\x30\x82"
        before = card.pin_tries()
        assert 0 <= before <= 3
        assert card.pin_tries() == before        # the query consumes nothing
    finally:
        transport.close()

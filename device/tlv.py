"""BER-TLV as the My Number Card uses it (tags of one or two bytes, lengths up to 0x82 xx yy). Pure code.

Every malformed input raises :class:`MalformedResponse`; nothing here loops on the input's say-so.
"""
from __future__ import annotations

from .errors import MalformedResponse


def parse_header(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    """Return (tag, length, value_offset) of the TLV starting at ``pos``."""
    try:
        tag = buf[pos]
        pos += 1
        if tag & 0x1F == 0x1F:  # multi-byte tag; the card uses two bytes at most
            tag = (tag << 8) | buf[pos]
            if buf[pos] & 0x80:
                raise MalformedResponse("TLV tag longer than two bytes")
            pos += 1
        first = buf[pos]
        pos += 1
        if first < 0x80:
            length = first
        elif first == 0x81:
            length = buf[pos]
            pos += 1
        elif first == 0x82:
            length = (buf[pos] << 8) | buf[pos + 1]
            pos += 2
        else:
            raise MalformedResponse(f"unsupported TLV length form 0x{first:02X}")
    except IndexError:
        raise MalformedResponse("TLV header truncated") from None
    return tag, length, pos


def parse(buf: bytes) -> dict[int, bytes]:
    """Parse a sequence of TLVs into {tag: value}. Duplicate tags are an error (a hostile card's trick)."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(buf):
        if buf[pos] in (0x00, 0xFF) and all(b in (0x00, 0xFF) for b in buf[pos:]):
            break  # padding at the end of a fixed-size EF
        tag, length, start = parse_header(buf, pos)
        end = start + length
        if end > len(buf):
            raise MalformedResponse(f"TLV {tag:X} says {length} bytes, {len(buf) - start} are there")
        if tag in out:
            raise MalformedResponse(f"TLV tag {tag:X} appears twice")
        out[tag] = bytes(buf[start:end])
        pos = end
    return out


def encode(tag: int, value: bytes) -> bytes:
    """The inverse of :func:`parse_header` (used by the virtual card and by tests)."""
    t = tag.to_bytes(2 if tag > 0xFF else 1, "big")
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n <= 0xFF:
        ln = bytes([0x81, n])
    elif n <= 0xFFFF:
        ln = bytes([0x82, n >> 8, n & 0xFF])
    else:
        raise ValueError("value too long")
    return t + ln + value


def der_total_length(head: bytes) -> int:
    """Total size of a DER object from its first bytes: the card's certificates start ``30 82 LL LL``."""
    if len(head) < 2 or head[0] != 0x30:
        raise MalformedResponse("not a DER SEQUENCE")
    _, length, start = parse_header(head)
    return start + length

"""A PIN that cannot leak through repr, str, logs or tracebacks, and is wiped after use."""
from __future__ import annotations


class Pin:
    """Holds the digits in a mutable buffer so :meth:`wipe` can overwrite them."""

    __slots__ = ("_buf", "_min", "_max")

    def __init__(self, digits: str | bytes | bytearray, *, min_len: int = 4, max_len: int = 4,
                 alphabet: str = "0123456789"):
        raw = digits.encode("ascii", "strict") if isinstance(digits, str) else bytes(digits)
        if not (min_len <= len(raw) <= max_len) or any(chr(b) not in alphabet for b in raw):
            raise ValueError(f"a PIN here has {min_len}-{max_len} characters from {alphabet!r}")
        self._buf = bytearray(raw)

    def __len__(self) -> int:
        return len(self._buf)

    def __repr__(self) -> str:
        return "Pin(<redacted>)"

    __str__ = __repr__

    def __reduce__(self):  # pickling would copy the secret into another buffer
        raise TypeError("a Pin cannot be pickled")

    def __eq__(self, other):
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def bytes_for_apdu(self) -> bytes:
        """The ASCII digits, for exactly one VERIFY APDU."""
        if not any(self._buf):
            raise ValueError("this PIN has been wiped")
        return bytes(self._buf)

    def wipe(self) -> None:
        for i in range(len(self._buf)):
            self._buf[i] = 0

    def __enter__(self) -> "Pin":
        return self

    def __exit__(self, *exc) -> None:
        self.wipe()

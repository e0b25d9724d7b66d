"""Errors of the protocol layer. The wire errors have stable names and codes (docs/protocol.md lists them; clients
match on the name); the rest are the layer's own failures, said in words for a log or a person.

    Exception
     ├── RpcError                      an error reply on the wire: code, name, family, a message staff can act on
     │    ├── InternalError            (-32603) a bug on our side; the reader keeps running
     │    ├── ClientMisuse             family "client": the request can be fixed by the caller
     │    │    ├── ParseError          (-32700)  JSON-RPC 2.0's own ...
     │    │    ├── InvalidRequest      (-32600)
     │    │    ├── MethodNotFound      (-32601)
     │    │    ├── InvalidParams       (-32602)
     │    │    ├── NotPermitted (1001), Busy (1002), NoSession (1003), WrongStep (1004), RateLimited (1005),
     │    │    └── MessageTooLarge (1006), NoResult (1007), TooManyClients (1008), TimedOut (1009)
     │    └── WorldFault               family "device": the request was fine; a device, card or the store was not
     │         └── CardRemoved (2001), ReaderFault (2002), StoreUnavailable (2003)
     ├── RemoteError                   what a client (rpc/client.py) raises for an error reply it received
     ├── Unencodable                   a value UTF-8 cannot carry (rpc/codec.py)
     └── TlsUnavailable                the network listener cannot serve: a file missing or wrong (rpc/tls.py)

Two families, as in h11: a client's misuse and a fault of the world. Only the service converts lower layers'
errors into these (daemon/service/protocol.py); the server turns anything else into ``InternalError``.
"""
from __future__ import annotations


class RpcError(Exception):
    code = -32603
    name = "InternalError"
    family = "server"
    message = "The reader hit an internal error; it keeps running. Try again."

    def __init__(self, message: str | None = None, **data):
        self.text = message or self.message
        self.data = data
        super().__init__(self.text)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:           # a concrete wire error, not a family
            cls.name = cls.__name__
            ERRORS[cls.name] = cls

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.text, "data": {"name": self.name, "family": self.family, **self.data}}


ERRORS: dict[str, type[RpcError]] = {"InternalError": RpcError}
InternalError = RpcError


class ClientMisuse(RpcError):
    family = "client"


class WorldFault(RpcError):
    family = "device"


# JSON-RPC 2.0's own
class ParseError(ClientMisuse):
    code, message = -32700, "The message is not valid JSON."


class InvalidRequest(ClientMisuse):
    code, message = -32600, "The message is not a JSON-RPC 2.0 request object."


class MethodNotFound(ClientMisuse):
    code, message = -32601, "No such method; call rpc.discover for the list."


class InvalidParams(ClientMisuse):
    code, message = -32602, "The parameters are not what this method takes."


# a client's misuse of mynareader's methods
class NotPermitted(ClientMisuse):
    code = 1001
    message = "This socket may not do that (PINs and consent come only from the kiosk, 目視 only from reception)."


class Busy(ClientMisuse):
    code, message = 1002, "Another kiosk client holds the patient screen."


class NoSession(ClientMisuse):
    code, message = 1003, "No reception session is under way."


class WrongStep(ClientMisuse):
    code, message = 1004, "The session is not at a step that takes this input."


class RateLimited(ClientMisuse):
    code, message = 1005, "Too many requests on this connection; slow down."


class MessageTooLarge(ClientMisuse):
    code, message = 1006, "The message is larger than the reader accepts."


class NoResult(ClientMisuse):
    code, message = 1007, "No result has been produced yet."


class TooManyClients(ClientMisuse):
    code, message = 1008, "Too many clients are connected to this socket; close idle connections and try again."


class TimedOut(ClientMisuse):
    code, message = 1009, "The connection sent nothing in time, or left a message unfinished; it is closed."


# faults of a device, the card or the store
class CardRemoved(WorldFault):
    code, message = 2001, "The card was taken off the reader; the session ended."


class ReaderFault(WorldFault):
    code, message = 2002, "The card reader reported a fault; the reader keeps trying."


class StoreUnavailable(WorldFault):
    code = 2003
    message = "The reader's state store cannot be read; identity checks are refused until staff fix it."


class RemoteError(Exception):
    """An error reply: ``name`` is the stable error name (e.g. "PinBlocked"), ``code`` its number."""

    def __init__(self, payload: dict):
        self.code = payload.get("code")
        self.data = payload.get("data") or {}
        self.name = self.data.get("name", "Error")
        self.text = payload.get("message", "")
        super().__init__(f"{self.name} ({self.code}): {self.text}")


class Unencodable(Exception):
    """A value holds text that UTF-8 cannot carry (a lone UTF-16 surrogate, as a JavaScript client makes when it
    cuts a string inside an emoji)."""


class TlsUnavailable(Exception):
    """The listener cannot serve (a file missing or wrong): said in words for the log."""

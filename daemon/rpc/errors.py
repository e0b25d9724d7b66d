"""Protocol errors with stable names and codes (docs/protocol.md lists them; clients match on the name).

Two families, as in h11: a client's misuse (4xxx-like: the request can be fixed) and a device or card fault
(the request was fine; the world was not). Each carries a message a receptionist can act on.
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

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.text, "data": {"name": self.name, "family": self.family, **self.data}}


def _error(name: str, code: int, family: str, message: str) -> type[RpcError]:
    cls = type(name, (RpcError,), {"code": code, "name": name, "family": family, "message": message})
    ERRORS[name] = cls
    return cls


ERRORS: dict[str, type[RpcError]] = {"InternalError": RpcError}

# JSON-RPC 2.0's own
ParseError = _error("ParseError", -32700, "client", "The message is not valid JSON.")
InvalidRequest = _error("InvalidRequest", -32600, "client", "The message is not a JSON-RPC 2.0 request object.")
MethodNotFound = _error("MethodNotFound", -32601, "client", "No such method; call rpc.discover for the list.")
InvalidParams = _error("InvalidParams", -32602, "client", "The parameters are not what this method takes.")

# client misuse
NotPermitted = _error("NotPermitted", 1001, "client",
                      "This socket may not do that (PINs and consent come only from the kiosk, 目視 only from reception).")
Busy = _error("Busy", 1002, "client", "Another kiosk client holds the patient screen.")
NoSession = _error("NoSession", 1003, "client", "No reception session is under way.")
WrongStep = _error("WrongStep", 1004, "client", "The session is not at a step that takes this input.")
RateLimited = _error("RateLimited", 1005, "client", "Too many requests on this connection; slow down.")
MessageTooLarge = _error("MessageTooLarge", 1006, "client", "The message is larger than the reader accepts.")
NoResult = _error("NoResult", 1007, "client", "No result has been produced yet.")
TooManyClients = _error("TooManyClients", 1008, "client",
                        "Too many clients are connected to this socket; close idle connections and try again.")
TimedOut = _error("TimedOut", 1009, "client",
                  "The connection sent nothing in time, or left a message unfinished; it is closed.")

# device, card and store faults
CardRemoved = _error("CardRemoved", 2001, "device", "The card was taken off the reader; the session ended.")
ReaderFault = _error("ReaderFault", 2002, "device", "The card reader reported a fault; the reader keeps trying.")
StoreUnavailable = _error("StoreUnavailable", 2003, "device",
                          "The reader's state store cannot be read; identity checks are refused until staff fix it.")

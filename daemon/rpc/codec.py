"""JSON-RPC 2.0, one JSON object per line: decoding requests and encoding replies. Pure code."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from .errors import InvalidParams, InvalidRequest, MessageTooLarge, ParseError, RpcError, Unencodable

MAX_MESSAGE = 64 * 1024
MAX_DEPTH = 32          # params are flat objects; deeper nesting is an attack on the parser, not a request


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any]
    id: int | str | None      # None: a notification (no reply is sent)

    @property
    def is_notification(self) -> bool:
        return self.id is None


def _check(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what could not be stored, logged or sent back: lone surrogates, and nesting beyond MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise ParseError(f"the message nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Unencodable(f"{where} holds a lone UTF-16 surrogate; send whole characters (valid Unicode)") \
                from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check(k, where, depth + 1)
            _check(v, f"{where}.{k}" if isinstance(k, str) and k.isprintable() and k.isascii() else where,
                   depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check(v, where, depth + 1)


def decode(line: bytes, max_size: int = MAX_MESSAGE) -> Request:
    """Parse one line into a Request, or raise an RpcError (with the request id when it could be read)."""
    if len(line) > max_size:
        raise MessageTooLarge(f"messages are limited to {max_size} bytes; this one has {len(line)}")
    try:
        obj = json.loads(line)
    except RecursionError:
        raise ParseError(f"the message nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"the message is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidRequest("send one JSON object per line (batches are not supported)")
    rid = obj.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (int, str))):
        raise InvalidRequest("id must be a string or an integer")
    try:
        _check(rid, "id")
    except Unencodable as exc:
        raise InvalidRequest(str(exc)) from None      # the reply cannot carry this id: it goes back as null
    if obj.get("jsonrpc") != "2.0":
        raise InvalidRequest('"jsonrpc": "2.0" is required', id=rid)
    method = obj.get("method")
    if not isinstance(method, str) or not method:
        raise InvalidRequest('"method" must be a non-empty string', id=rid)
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise InvalidRequest('"params" must be an object (named parameters)', id=rid)
    try:
        _check(method, "method")
        _check(params, "params")
    except Unencodable as exc:
        raise InvalidParams(str(exc), id=rid) from None
    except ParseError as exc:
        raise ParseError(str(exc), id=rid) from None
    return Request(method, params, rid)


def result(rid, value: Any) -> bytes:
    return _line({"jsonrpc": "2.0", "id": rid, "result": value})


def error(rid, err: RpcError) -> bytes:
    payload = err.to_json()
    payload["data"].pop("id", None)
    return _line({"jsonrpc": "2.0", "id": rid, "error": payload})


def notification(method: str, params: dict) -> bytes:
    return _line({"jsonrpc": "2.0", "method": method, "params": params})


def _line(obj: dict) -> bytes:
    """One line of JSON. Text that UTF-8 cannot carry raises Unencodable (inputs are checked on the way in, so
    this means a bug: callers answer with an error rather than drop the connection)."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    except UnicodeEncodeError:
        raise Unencodable("a message held text that is not valid Unicode") from None

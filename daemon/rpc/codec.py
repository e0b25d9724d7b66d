"""JSON-RPC 2.0, one JSON object per line: decoding requests and encoding replies. Pure code."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from .errors import InvalidRequest, MessageTooLarge, ParseError, RpcError

MAX_MESSAGE = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any]
    id: int | str | None      # None: a notification (no reply is sent)

    @property
    def is_notification(self) -> bool:
        return self.id is None


def decode(line: bytes, max_size: int = MAX_MESSAGE) -> Request:
    """Parse one line into a Request, or raise an RpcError (with the request id when it could be read)."""
    if len(line) > max_size:
        raise MessageTooLarge(f"messages are limited to {max_size} bytes; this one has {len(line)}")
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"the message is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidRequest("send one JSON object per line (batches are not supported)")
    rid = obj.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (int, str))):
        raise InvalidRequest("id must be a string or an integer")
    if obj.get("jsonrpc") != "2.0":
        raise InvalidRequest('"jsonrpc": "2.0" is required', id=rid)
    method = obj.get("method")
    if not isinstance(method, str) or not method:
        raise InvalidRequest('"method" must be a non-empty string', id=rid)
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise InvalidRequest('"params" must be an object (named parameters)', id=rid)
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
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

"""Parameters checked against the OpenRPC document, in one place: the document is what clients read, so it is
also what the reader enforces (types, enums, lengths, patterns, required, and no unknown names)."""
from __future__ import annotations

from typing import Any, Callable

import jsonschema

from .errors import InvalidParams


def checker(document: dict) -> Callable[[str, dict], None]:
    """A function (method, params) -> None that raises InvalidParams naming the first parameter at fault."""
    rules: dict[str, tuple[dict[str, Any], set[str]]] = {}
    for method in document["methods"]:
        validators = {p["name"]: jsonschema.Draft202012Validator(p.get("schema", {})) for p in method["params"]}
        required = {p["name"] for p in method["params"] if p.get("required")}
        rules[method["name"]] = (validators, required)

    def check(name: str, params: dict) -> None:
        if name not in rules:
            return                       # unknown methods are MethodNotFound, decided by the server
        validators, required = rules[name]
        unknown = sorted(set(params) - set(validators))
        if unknown:
            allowed = ", ".join(sorted(validators)) or "none"
            raise InvalidParams(f"{name} takes no parameter {unknown[0]!r} (parameters: {allowed})")
        missing = sorted(required - set(params))
        if missing:
            raise InvalidParams(f"{name} needs the parameter {missing[0]!r}")
        for key, value in params.items():
            error = jsonschema.exceptions.best_match(validators[key].iter_errors(value))
            if error is not None:
                raise InvalidParams(f"{key}: {_say(error)}")

    return check


def _say(error: "jsonschema.ValidationError") -> str:
    """The schema's complaint in words a developer reading the error can act on (no Python reprs of schemas)."""
    kind, expected = error.validator, error.validator_value
    if kind == "enum":
        return "one of " + ", ".join(str(v) for v in expected)
    if kind == "type":
        return f"a {expected}" if isinstance(expected, str) else "one of the types " + ", ".join(expected)
    if kind == "minLength":
        return f"at least {expected} characters"
    if kind == "maxLength":
        return f"at most {expected} characters"
    if kind == "pattern":
        return f"must match {expected}"
    return error.message

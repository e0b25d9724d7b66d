"""The consent catalogue: which screens the patient sees and what each answer means. Loaded from TOML."""
from __future__ import annotations

import dataclasses
import tomllib
from importlib import resources
from pathlib import Path

from .errors import CatalogueError


@dataclasses.dataclass(frozen=True)
class Text:
    ja: str
    en: str

    def as_dict(self) -> dict:
        return {"ja": self.ja, "en": self.en}


@dataclasses.dataclass(frozen=True)
class ConsentItem:
    id: str
    result_field: str
    question: Text
    agree: Text
    refuse: Text
    medical: bool


@dataclasses.dataclass(frozen=True)
class Catalogue:
    version: str
    comprehensive_question: Text
    comprehensive_agree: Text
    comprehensive_individual: Text
    items: tuple[ConsentItem, ...]
    always_provided: tuple[tuple[str, str, Text, bool], ...]   # (id, result_field, notice, offered_in_grace)
    prescription_question: Text
    prescription_choices: tuple[tuple[str, Text], ...]

    def item(self, item_id: str) -> ConsentItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)


def _text(table: dict, key: str, where: str) -> Text:
    try:
        ja, en = table[f"{key}_ja" if key else "ja"], table[f"{key}_en" if key else "en"]
    except KeyError as exc:
        raise CatalogueError(f"{where}: missing {exc.args[0]}") from None
    if not (isinstance(ja, str) and isinstance(en, str) and ja and en):
        raise CatalogueError(f"{where}: texts must be non-empty strings")
    return Text(ja, en)


def parse_catalogue(data: dict) -> Catalogue:
    try:
        version = data["version"]
        comp = data["comprehensive"]
        items_raw = data["items"]
    except KeyError as exc:
        raise CatalogueError(f"the consent catalogue lacks {exc.args[0]!r}") from None
    if not isinstance(version, str) or not version:
        raise CatalogueError("the consent catalogue needs a version string")
    items = []
    for i, raw in enumerate(items_raw):
        where = f"items[{i}]"
        if not isinstance(raw.get("id"), str) or not isinstance(raw.get("result_field"), str):
            raise CatalogueError(f"{where}: needs id and result_field")
        if not isinstance(raw.get("medical"), bool):
            raise CatalogueError(f"{where}: 'medical' must be true or false (it decides the grace period)")
        items.append(ConsentItem(raw["id"], raw["result_field"], _text(raw, "", where), _text(raw, "agree", where),
                                 _text(raw, "refuse", where), raw["medical"]))
    if len({i.id for i in items}) != len(items):
        raise CatalogueError("consent item ids must be unique")
    always = tuple((a["id"], a["result_field"], _text(a, "", "always_provided"), bool(a.get("offered_in_grace")))
                   for a in data.get("always_provided", []))
    rx = data.get("prescription_form", {})
    choices = tuple((c["id"], _text(c, "", "prescription_form.choices")) for c in rx.get("choices", []))
    return Catalogue(version, _text(comp, "", "comprehensive"), _text(comp, "agree", "comprehensive"),
                     _text(comp, "individual", "comprehensive"), tuple(items), always,
                     _text(rx, "", "prescription_form") if rx else Text("-", "-"), choices)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The catalogue at ``path``, or the built-in one."""
    try:
        if path:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = resources.files(__package__).joinpath("consent_catalogue.toml").read_text(encoding="utf-8")
        return parse_catalogue(tomllib.loads(text))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"cannot read the consent catalogue {path or '(built-in)'}: {exc}") from None

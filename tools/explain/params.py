"""Query parameters as users paste them: a JSON list, or Ecto's inspected params list.

Ecto logs params with Kernel.inspect (shared/reference/ecto-formats.md §2), so a query copied
from a dev log comes with `[42, "a@b.c", nil, ~U[2024-05-01 12:00:00Z], Decimal.new("9.99")]`.
We read that notation into Python values psycopg can bind, rather than asking users to
translate it by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from psycopg.types.json import Jsonb

from tools.errors import InputError


class TruncatedList(list):
    """A list Ecto cut at 50 items (`...`): its full content cannot be recovered."""


def parse_params(text: str | list | None) -> list[Any] | None:
    """None when no params were given; raises InputError with the position of a syntax error."""
    if text is None:
        return None
    if isinstance(text, list):
        return [_from_json(v) for v in text]
    text = text.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    else:
        if not isinstance(value, list):
            raise InputError("params must be a list, e.g. [42, \"open\"]")
        return [_from_json(v) for v in value]
    parser = _ElixirParser(text)
    result = parser.parse()
    if not isinstance(result, list):
        raise InputError("params must be a list, e.g. [42, \"open\"]")
    if isinstance(result, TruncatedList) or any(isinstance(v, TruncatedList) for v in result):
        raise InputError("the params list was truncated by Ecto's logger (`...`); "
                         "re-run with the full list, or without params for a generic plan")
    return result


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return Jsonb(value)
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


_NUMBER = re.compile(r"-?\d[\d_]*(\.\d[\d_]*)?([eE][-+]?\d+)?")
_ATOM = re.compile(r":(\"(?:[^\"\\]|\\.)*\"|[A-Za-z_][A-Za-z0-9_@]*[?!]?)")
_SIGIL = re.compile(r"~([UNDT])\[([^\]]*)\]")


class _ElixirParser:
    """Recursive descent over the subset of Elixir literals that inspect() prints for params."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> InputError:
        snippet = self.text[self.pos:self.pos + 20]
        return InputError(f"cannot read params at character {self.pos + 1} ({snippet!r}): {what}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def expect(self, s: str) -> None:
        self.skip_ws()
        if not self.peek(s):
            raise self.error(f"expected {s!r}")
        self.pos += len(s)

    def parse(self) -> Any:
        value = self.value()
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.error("unexpected text after the list")
        return value

    def value(self) -> Any:
        self.skip_ws()
        t = self.text
        if self.pos >= len(t):
            raise self.error("unexpected end")
        if self.peek("["):
            return self.sequence("[", "]")
        if self.peek("%{"):
            self.pos += 1
            return Jsonb(self.mapping())
        if self.peek("\""):
            return self.string()
        if self.peek("<<"):
            return self.binary()
        if self.peek("Decimal.new("):
            self.pos += len("Decimal.new(")
            raw = self.string()
            self.expect(")")
            return self.decimal(raw)
        if self.peek("#Decimal<"):
            end = t.find(">", self.pos)
            if end < 0:
                raise self.error("unterminated #Decimal<...>")
            raw = t[self.pos + len("#Decimal<"):end]
            self.pos = end + 1
            return self.decimal(raw)
        if m := _SIGIL.match(t, self.pos):
            self.pos = m.end()
            return self.sigil(m.group(1), m.group(2))
        for word, val in (("nil", None), ("true", True), ("false", False)):
            if t.startswith(word, self.pos) and not t[self.pos + len(word):self.pos + len(word) + 1].isalnum():
                self.pos += len(word)
                return val
        if m := _ATOM.match(t, self.pos):
            self.pos = m.end()
            name = m.group(1)
            return json.loads(name) if name.startswith("\"") else name
        if m := _NUMBER.match(t, self.pos):
            self.pos = m.end()
            raw = m.group(0).replace("_", "")
            return float(raw) if (m.group(1) or m.group(2)) else int(raw)
        raise self.error("not a value Ecto logs")

    def sequence(self, open_: str, close: str) -> list:
        self.expect(open_)
        items: list[Any] = []
        self.skip_ws()
        if self.peek(close):
            self.pos += len(close)
            return items
        while True:
            self.skip_ws()
            if self.peek("..."):
                self.pos += 3
                self.expect(close)
                return TruncatedList(items)
            items.append(self.value())
            self.skip_ws()
            if self.peek(","):
                self.pos += 1
                continue
            self.expect(close)
            return items

    def mapping(self) -> dict:
        self.expect("{")
        result: dict[str, Any] = {}
        self.skip_ws()
        if self.peek("}"):
            self.pos += 1
            return result
        while True:
            self.skip_ws()
            # `key: value` shorthand for atom keys, else `key => value`
            m = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):\s").match(self.text, self.pos)
            if m:
                self.pos = m.end()
                key: Any = m.group(1)
            else:
                key = self.value()
                self.expect("=>")
            val = self.value()
            result[str(key)] = val.obj if isinstance(val, Jsonb) else val
            self.skip_ws()
            if self.peek(","):
                self.pos += 1
                continue
            self.expect("}")
            return result

    def string(self) -> str:
        self.skip_ws()
        m = re.compile(r"\"((?:[^\"\\]|\\.)*)\"", re.S).match(self.text, self.pos)
        if not m:
            raise self.error("unterminated string")
        self.pos = m.end()
        body = m.group(1)
        # Elixir's escapes are a superset of JSON's for what inspect prints; #{ is escaped as \#{.
        try:
            return json.loads("\"" + body.replace("\\#", "#").replace("\\e", "\\u001b") + "\"")
        except ValueError:
            return body

    def binary(self) -> bytes:
        end = self.text.find(">>", self.pos)
        if end < 0:
            raise self.error("unterminated <<...>>")
        inner = self.text[self.pos + 2:end].strip()
        self.pos = end + 2
        if inner.startswith("\""):
            return json.loads(inner).encode()
        try:
            return bytes(int(x) for x in inner.split(",") if x.strip())
        except ValueError:
            raise self.error("a binary must list byte values") from None

    def decimal(self, raw: str) -> Decimal:
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise self.error(f"invalid decimal {raw!r}") from None

    def sigil(self, kind: str, body: str) -> Any:
        try:
            if kind == "U":
                return dt.datetime.fromisoformat(body.replace("Z", "+00:00"))
            if kind == "N":
                return dt.datetime.fromisoformat(body)
            if kind == "D":
                return dt.date.fromisoformat(body)
            return dt.time.fromisoformat(body)
        except ValueError:
            raise self.error(f"invalid ~{kind}[{body}]") from None


def split_logged_query(text: str) -> tuple[str, str | None]:
    """Split an Ecto log's SQL line (`SELECT ... WHERE x = $1 [42]`) into SQL and params.

    Only splits when the text uses $n placeholders and ends in a list that reads as params,
    so plain SQL ending in an array literal or subscript is left alone.
    """
    stripped = text.strip()
    if not stripped.endswith("]") or "$1" not in stripped:
        return text, None
    start = stripped.rfind(" [")
    while start > 0:
        candidate = stripped[start + 1:]
        try:
            _ElixirParser(candidate).parse()
        except InputError:
            start = stripped.rfind(" [", 0, start)
            continue
        return stripped[:start].rstrip(), candidate
    return text, None

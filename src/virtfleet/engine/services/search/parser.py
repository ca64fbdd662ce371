"""Parser and canonical renderer for oVirt's ``?search=`` language (the subset scripts use).

Every malformed input raises ``InvalidInput`` naming the position and what was expected; the
size limits below keep hostile queries from costing more than a bounded amount of work.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from virtfleet.common.errors import InvalidInput
from virtfleet.engine.services.search.ast import (
    And,
    Comparison,
    Expr,
    Operator,
    Or,
    SearchQuery,
    Sort,
)

MAX_LENGTH = 4096
MAX_DEPTH = 32
MAX_TERMS = 256
MAX_PAGE = 10**9

FREE_TEXT_FIELD = "name"
KEYWORDS = frozenset({"and", "or", "sortby", "page"})
_SPECIAL = frozenset('()"=!<>')
_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_PREFIX_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*):")
_DIGITS_RE = re.compile(r"[0-9]+")
_OPERATORS = {op.value: op for op in Operator}


class _Kind(enum.Enum):
    WORD = "word"
    STRING = "string"
    OP = "operator"
    LPAREN = "'('"
    RPAREN = "')'"
    END = "end of input"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str
    pos: int

    def is_keyword(self, word: str) -> bool:
        return self.kind is _Kind.WORD and self.text.lower() == word

    def describe(self) -> str:
        if self.kind is _Kind.END:
            return "end of input"
        shown = self.text if len(self.text) <= 24 else self.text[:21] + "..."
        return f"'{shown}'" if self.kind is not _Kind.STRING else f'"{shown}"'


def _error(pos: int, message: str) -> InvalidInput:
    return InvalidInput(f"Invalid search query at position {pos + 1}: {message}")


def _is_word_char(char: str) -> bool:
    return not char.isspace() and char not in _SPECIAL


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a double-quoted string opening at ``start``; return its value and the end index."""
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(chars), i + 1
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped not in ('"', "\\"):
                raise _error(i, 'expected \\" or \\\\ after a backslash in a quoted string')
            chars.append(escaped)
            i += 2
            continue
        chars.append(char)
        i += 1
    raise _error(start, "expected a closing '\"' for the string opened here")


def _tokenize(text: str, start: int) -> list[_Token]:
    tokens: list[_Token] = []
    i = start
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(_Kind.LPAREN if char == "(" else _Kind.RPAREN, char, i))
            i += 1
        elif char in "=!<>":
            pair = text[i : i + 2]
            if pair in ("!=", "<=", ">="):
                tokens.append(_Token(_Kind.OP, pair, i))
                i += 2
            elif char == "!":
                raise _error(i, "expected '=' after '!'")
            else:
                tokens.append(_Token(_Kind.OP, char, i))
                i += 1
        elif char == '"':
            value, end = _read_string(text, i)
            tokens.append(_Token(_Kind.STRING, value, i))
            i = end
        else:
            end = i
            while end < len(text) and _is_word_char(text[end]):
                end += 1
            tokens.append(_Token(_Kind.WORD, text[i:end], i))
            i = end
    tokens.append(_Token(_Kind.END, "", len(text)))
    return tokens


def _split_prefix(text: str) -> tuple[str | None, int]:
    """Find an entity prefix such as ``Vms:``; return it and where the rest begins."""
    start = 0
    while start < len(text) and text[start].isspace():
        start += 1
    match = _PREFIX_RE.match(text, start)
    if match is None:
        return None, 0
    return match.group(1), match.end()


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0
        self._terms = 0

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind is not _Kind.END:
            self._index += 1
        return token

    def _unexpected(self, expected: str) -> InvalidInput:
        token = self._peek()
        return _error(token.pos, f"expected {expected}, found {token.describe()}")

    def parse(self, prefix: str | None) -> SearchQuery:
        condition = self._or_expr(0) if self._starts_term() else None
        sort: Sort | None = None
        page: int | None = None
        while True:
            token = self._peek()
            if sort is None and token.is_keyword("sortby"):
                self._advance()
                sort = self._sort()
            elif page is None and token.is_keyword("page"):
                self._advance()
                page = self._page()
            else:
                break
        if self._peek().kind is not _Kind.END:
            expected = []
            if sort is None and page is None:
                expected += ["a term", "'and'", "'or'"] if condition is not None else ["a term"]
            expected += ["'sortby'"] if sort is None else []
            expected += ["'page'"] if page is None else []
            raise self._unexpected(
                ", ".join(expected) + " or end of input" if expected else "end of input"
            )
        return SearchQuery(prefix=prefix, condition=condition, sort=sort, page=page)

    def _starts_term(self) -> bool:
        token = self._peek()
        if token.kind in (_Kind.LPAREN, _Kind.STRING):
            return True
        return token.kind is _Kind.WORD and token.text.lower() not in KEYWORDS

    def _or_expr(self, depth: int) -> Expr:
        items = [self._and_expr(depth)]
        while self._peek().is_keyword("or"):
            self._advance()
            items.append(self._and_expr(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and_expr(self, depth: int) -> Expr:
        items = [self._term(depth)]
        while True:
            if self._peek().is_keyword("and"):
                self._advance()
                items.append(self._term(depth))
            elif self._starts_term():
                items.append(self._term(depth))
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items))

    def _term(self, depth: int) -> Expr:
        if not self._starts_term():
            raise self._unexpected("a term (field=value, free text or '(')")
        token = self._advance()
        if token.kind is _Kind.LPAREN:
            if depth >= MAX_DEPTH:
                raise _error(token.pos, f"parentheses nest deeper than {MAX_DEPTH} levels")
            inner = self._or_expr(depth + 1)
            if self._peek().kind is not _Kind.RPAREN:
                raise self._unexpected("')', 'and', 'or' or another term")
            self._advance()
            return inner
        self._count_term(token)
        if token.kind is _Kind.WORD and self._peek().kind is _Kind.OP:
            op = _OPERATORS[self._advance().text]
            if not _FIELD_RE.fullmatch(token.text):
                raise _error(token.pos, f"expected a field name, found {token.describe()}")
            return Comparison(token.text.lower(), op, self._value(op))
        return Comparison(FREE_TEXT_FIELD, Operator.EQ, token.text)

    def _value(self, op: Operator) -> str:
        token = self._peek()
        if token.kind is _Kind.STRING or (
            token.kind is _Kind.WORD and token.text.lower() not in KEYWORDS
        ):
            self._advance()
            return token.text
        raise self._unexpected(f"a value after '{op.value}' (quote keywords)")

    def _count_term(self, token: _Token) -> None:
        self._terms += 1
        if self._terms > MAX_TERMS:
            raise _error(token.pos, f"more than {MAX_TERMS} terms")

    def _sort(self) -> Sort:
        token = self._peek()
        if token.kind is not _Kind.WORD or not _FIELD_RE.fullmatch(token.text):
            raise self._unexpected("a field name after 'sortby'")
        self._advance()
        descending = False
        direction = self._peek()
        if direction.is_keyword("asc") or direction.is_keyword("desc"):
            self._advance()
            descending = direction.is_keyword("desc")
        return Sort(token.text.lower(), descending)

    def _page(self) -> int:
        token = self._peek()
        if token.kind is not _Kind.WORD or not _DIGITS_RE.fullmatch(token.text):
            raise self._unexpected("a page number after 'page'")
        number = int(token.text) if len(token.text) <= 12 else MAX_PAGE + 1
        if not 1 <= number <= MAX_PAGE:
            raise _error(token.pos, f"expected a page number from 1 to {MAX_PAGE}")
        self._advance()
        return number


def parse_search(text: str) -> SearchQuery:
    """Parse a ``search=`` parameter; an empty or blank string gives a query with no condition."""
    if len(text) > MAX_LENGTH:
        raise InvalidInput(f"Invalid search query: longer than {MAX_LENGTH} characters")
    prefix, start = _split_prefix(text)
    return _Parser(_tokenize(text, start)).parse(prefix)


def _render_value(value: str) -> str:
    if value and all(_is_word_char(c) for c in value) and value.lower() not in KEYWORDS:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _render_expr(expr: Expr, nested: bool) -> str:
    if isinstance(expr, Comparison):
        return f"{expr.field}{expr.op.value}{_render_value(expr.value)}"
    joiner = " and " if isinstance(expr, And) else " or "
    text = joiner.join(_render_expr(item, True) for item in expr.items)
    return f"({text})" if nested else text


def render(query: SearchQuery) -> str:
    """Canonical text of ``query``; ``parse_search(render(q)) == q`` for every parsed query."""
    parts: list[str] = []
    if query.prefix is not None:
        parts.append(f"{query.prefix}:")
    if query.condition is not None:
        parts.append(_render_expr(query.condition, False))
    if query.sort is not None:
        direction = "desc" if query.sort.descending else "asc"
        parts.append(f"sortby {query.sort.field} {direction}")
    if query.page is not None:
        parts.append(f"page {query.page}")
    return " ".join(parts)

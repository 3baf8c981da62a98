"""A SOQL subset: parse, type-check against the object's fields, evaluate.

``SELECT f, ... | COUNT() | AGG(f) [alias], ... FROM Obj [WHERE cond]
[ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`` with AND / OR /
NOT / parentheses (mixing AND and OR without parentheses is an error, as in SOQL),
``= != <> < <= > >=``, ``[NOT] IN (...)``, ``LIKE``, null, true/false, quoted strings
with escapes, dateTime / date literals and numbers.
String comparisons are case-insensitive, as in Salesforce. Aggregates have no GROUP BY
(see :mod:`._sf_soql_agg`): a plain field beside them, or an ORDER BY, is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nexasync.sandbox._sf_schema import NUMBER_TYPES, Field, norm_id, parse_time
from nexasync.sandbox._sf_soql_agg import AGGREGATES, Aggregate, build
from nexasync.sandbox._sf_validate import resolve


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


_TOKEN = re.compile(r"""
 (?P<ws>\s+)
|(?P<string>'(?:[^'\\]|\\.)*')
|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
|(?P<date>\d{4}-\d{2}-\d{2})
|(?P<number>-?\d+(?:\.\d+)?)
|(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
|(?P<op>!=|<>|<=|>=|=|<|>)
|(?P<punct>[(),])
""", re.X)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass
class Tok:
    kind: str
    text: str
    pos: int

    def kw(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words


@dataclass
class Query:
    obj: str
    fields: list[Field] | None  # None: COUNT(), or aggregates only
    where: Any = None
    order: list[tuple[Field, bool, bool]] = field(default_factory=list)  # field, desc, nulls 1st
    limit: int | None = None
    offset: int = 0
    aggregates: list[Aggregate] = field(default_factory=list)


def _type_name(f: Field) -> str:
    if f.is_text:
        return "string"
    return {"datetime": "dateTime"}.get(f.type, f.type)


class _Parser:
    def __init__(self, q: str, schemas: dict[str, dict[str, Field]]) -> None:
        self.q, self.schemas = q, schemas
        self.toks: list[Tok] = []
        pos = 0
        while pos < len(q):
            m = _TOKEN.match(q, pos)
            if not m:
                self.fail(pos, f"unexpected token: {q[pos:].split()[0]}")
            if m.lastgroup != "ws":
                self.toks.append(Tok(str(m.lastgroup), m.group(), pos))
            pos = m.end()
        self.i = 0

    def fail(self, pos: int, text: str, code: str = "MALFORMED_QUERY") -> Any:
        start = self.q.rfind("\n", 0, pos) + 1
        end = self.q.find("\n", pos)
        line = self.q[start: end if end >= 0 else None]
        row, col = self.q.count("\n", 0, pos) + 1, pos - start + 1
        caret = " " * (col - 1) + "^"
        raise SoqlError(code, f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{col}\n{text}")

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, what: str = "") -> Tok:
        tok = self.peek()
        if tok is None:
            hint = f" (expecting {what})" if what else ""
            self.fail(len(self.q), f"unexpected token: <EOF>{hint}")
        self.i += 1
        return tok  # type: ignore[return-value]

    def accept(self, *words: str) -> Tok | None:
        tok = self.peek()
        if tok is not None and (tok.kw(*words) or (tok.kind == "punct" and tok.text in words)):
            self.i += 1
            return tok
        return None

    def expect(self, word: str) -> Tok:
        tok = self.take(f"'{word}'")
        if not (tok.kw(word) or tok.text == word):
            self.fail(tok.pos, f"unexpected token: {tok.text}")
        return tok

    def field(self, tok: Tok, obj: str) -> Field:
        if tok.kind != "ident":
            self.fail(tok.pos, f"unexpected token: {tok.text}")
        f = resolve(self.schemas[obj], tok.text)
        if f is None:
            what = (f"Didn't understand relationship '{tok.text.split('.')[0]}' in field path."
                    if "." in tok.text else f"No such column '{tok.text}' on entity '{obj}'.")
            self.fail(tok.pos, f"{what} If you are attempting to use a custom field, be sure to "
                      "append the '__c' after the custom field name. Please reference your WSDL "
                      "or the describe call for the appropriate names.", "INVALID_FIELD")
        return f  # type: ignore[return-value]

    def parse(self) -> Query:
        self.expect("SELECT")
        names: list[Tok] | None = None
        aggs: list[tuple[Tok, Tok, Tok | None]] = []  # function, field, alias
        if self._at_count():
            self.i += 3
        else:
            names = []
            while True:
                tok = self.take("field")
                if tok.kw(*AGGREGATES) and self.accept("("):
                    arg = self.take("field")
                    self.expect(")")
                    nxt = self.peek()
                    alias = self.take() if nxt and nxt.kind == "ident" and not nxt.kw(
                        "FROM") else None
                    aggs.append((tok, arg, alias))
                else:
                    names.append(tok)
                if not self.accept(","):
                    break
        self.expect("FROM")
        obj_tok = self.take("object")
        obj = next((o for o in self.schemas if o.lower() == obj_tok.text.lower()), None)
        if obj is None:
            self.fail(obj_tok.pos, f"sObject type '{obj_tok.text}' is not supported. If you are "
                      "attempting to use a custom object, be sure to append the '__c' after the "
                      "entity name. Please reference your WSDL or the describe call for the "
                      "appropriate names.", "INVALID_TYPE")
        query = Query(str(obj), None)
        if aggs:
            query.aggregates = self.aggregates(aggs, query.obj)
            if names:
                self.fail(names[0].pos, f"Field must be grouped or aggregated: {names[0].text}")
            names = None
        if names is not None:
            query.fields = [self.field(t, query.obj) for t in names]
            seen = [f.name for f in query.fields]
            dup = next((n for n in seen if seen.count(n) > 1), None)
            if dup:
                self.fail(names[0].pos, f"duplicate field selected: {dup}")
        if self.accept("WHERE"):
            query.where = self.cond(query.obj)
        if self.accept("ORDER"):
            self.expect("BY")
            query.order.append(self.order_item(query.obj))
            while self.accept(","):
                query.order.append(self.order_item(query.obj))
        if query.aggregates and query.order:
            self.fail(self.toks[self.i - 1].pos,
                      f"Ordered field must be grouped or aggregated: {query.order[0][0].name}")
        if self.accept("LIMIT"):
            query.limit = self.integer()
        if self.accept("OFFSET"):
            query.offset = self.integer()
        tok = self.peek()
        if tok is not None:
            self.fail(tok.pos, f"unexpected token: {tok.text}")
        return query

    def _at_count(self) -> bool:
        ahead = [t.text for t in self.toks[self.i:self.i + 3]]
        return len(ahead) == 3 and ahead[0].upper() == "COUNT" and ahead[1:] == ["(", ")"]

    def aggregates(self, items: list[tuple[Tok, Tok, Tok | None]], obj: str) -> list[Aggregate]:
        return build(
            [(t.text.upper(), self.field(arg, obj), a.text if a else None)
             for t, arg, a in items],
            lambda index, text, code: self.fail((items[index][2] or items[index][1]).pos,
                                                text, code),
        )

    def integer(self) -> int:
        tok = self.take("number")
        if tok.kind != "number" or not tok.text.isdigit():
            self.fail(tok.pos, f"unexpected token: {tok.text}")
        return int(tok.text)

    def order_item(self, obj: str) -> tuple[Field, bool, bool]:
        f = self.field(self.take("field"), obj)
        desc = self.accept("DESC") is not None
        if not desc:
            self.accept("ASC")
        nulls_first = not desc
        if self.accept("NULLS"):
            nulls_first = self.accept("FIRST") is not None
            if not nulls_first:
                self.expect("LAST")
        return f, desc, nulls_first

    def cond(self, obj: str) -> Any:
        items = [self.unary(obj)]
        joiner: str | None = None
        while (tok := self.peek()) is not None and tok.kw("AND", "OR"):
            if joiner and tok.text.upper() != joiner:
                self.fail(tok.pos, f"unexpected token: {tok.text}")
            joiner = tok.text.upper()
            self.take()
            items.append(self.unary(obj))
        return items[0] if joiner is None else (joiner.lower(), items)

    def unary(self, obj: str) -> Any:
        if self.accept("NOT"):
            return ("not", self.unary(obj))
        if self.accept("("):
            inner = self.cond(obj)
            self.expect(")")
            return inner
        f = self.field(self.take("field"), obj)
        tok = self.take("operator")
        if tok.kind == "op":
            return ("cmp", f, "!=" if tok.text == "<>" else tok.text, self.literal(f))
        if tok.kw("LIKE"):
            lit = self.take("string")
            if lit.kind != "string" or not f.is_text:
                self.fail(lit.pos, f"invalid operator on field {f.name}: LIKE", "INVALID_FIELD")
            return ("like", f, self.like(lit))
        negate = tok.kw("NOT")
        if negate:
            tok = self.take("IN")
        if not tok.kw("IN"):
            self.fail(tok.pos, f"unexpected token: {tok.text}")
        self.expect("(")
        values = [self.literal(f)]
        while self.accept(","):
            values.append(self.literal(f))
        self.expect(")")
        return ("in", f, values, negate)

    def literal(self, f: Field) -> Any:
        tok = self.take("value")
        kind, text = tok.kind, tok.text
        if tok.kw("NULL"):
            return None
        want = _type_name(f)

        def wrong(quoted: bool) -> Any:
            how = "should be enclosed in quotes" if want == "string" else (
                "should not be enclosed in quotes" if quoted else "should be of that type")
            return self.fail(tok.pos, f"value of filter criterion for field '{f.name}' must be "
                             f"of type {want} and {how}", "INVALID_FIELD")

        if kind == "string":
            if not f.is_text:
                wrong(True)
            value = self.unescape(tok)
            if f.type in ("id", "reference"):
                full = norm_id(value)
                if full is None:
                    self.fail(tok.pos, f"invalid ID field: {value}",
                              "INVALID_QUERY_FILTER_OPERATOR")
                return full
            return value
        if tok.kw("TRUE", "FALSE"):
            return text.upper() == "TRUE" if f.type == "boolean" else wrong(False)
        if kind == "number":
            return float(text) if f.type in NUMBER_TYPES else wrong(False)
        if kind == "datetime" and f.type == "datetime":
            return parse_time(text)
        if kind == "date" and f.type == "date":
            parsed = parse_time(text + "T00:00:00Z")
            return parsed.date() if parsed else wrong(False)
        if kind in ("datetime", "date", "ident"):
            wrong(False)
        return self.fail(tok.pos, f"unexpected token: {text}")

    def unescape(self, tok: Tok, like: bool = False) -> str:
        body, out, i = tok.text[1:-1], [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\":
                nxt = body[i + 1]
                if nxt in "%_":
                    out.append("\\" + nxt if like else nxt)
                elif nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                else:
                    self.fail(tok.pos, f"Invalid string literal '{body}'. Illegal character "
                              f"sequence '\\{nxt}' in string literal.")
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)

    def like(self, tok: Tok) -> re.Pattern[str]:
        text, pattern, i = self.unescape(tok, like=True), "", 0
        while i < len(text):
            if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "%_":
                pattern += re.escape(text[i + 1])
                i += 2
                continue
            pattern += {"%": ".*", "_": "."}.get(text[i], re.escape(text[i]))
            i += 1
        return re.compile(pattern, re.IGNORECASE | re.DOTALL)


def parse(q: str, schemas: dict[str, dict[str, Field]]) -> Query:
    return _Parser(q, schemas).parse()

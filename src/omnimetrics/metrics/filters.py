"""The filter language of user segments: a `where` text turned into an Ibis predicate.

Never evaluated as Python: the text is parsed with `ast`, and only comparisons, `in`, and/or/not,
column names and text or number literals are accepted; anything else is refused with the grammar.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.errors import ConfigError, did_you_mean

Kind = Literal["text", "number"]

GRAMMAR = (
    "A segment filter uses column names, quoted text, numbers, ==, !=, <, <=, >, >=, "
    "in (...), not in (...), and, or, not and parentheses, e.g. "
    "\"age_band in ('18-24', '25-34') and city == 'Paris'\"."
)
MAX_FILTER_LENGTH = 2000

_COMPARE: dict[type[ast.cmpop], Callable[[ir.Value, ir.Value], ir.BooleanValue]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_WHAT: dict[type[ast.AST], str] = {
    ast.Call: "a function call",
    ast.Attribute: "an attribute",
    ast.Subscript: "indexing",
    ast.BinOp: "arithmetic",
    ast.Lambda: "a lambda",
    ast.NamedExpr: "an assignment",
    ast.IfExp: "an if-expression",
    ast.JoinedStr: "an f-string",
    ast.Dict: "a dict",
}

Predicate = Callable[[ir.Table], ir.BooleanValue]


class FilterColumn(Protocol):
    """A column a filter may name: text or number (a segment dimension)."""

    @property
    def kind(self) -> Kind: ...


@dataclass(frozen=True)
class _Operand:
    """One side of a comparison: a column of the person table, or a text or number literal."""

    kind: Kind
    column: str | None = None
    value: str | float | None = None

    def expr(self, table: ir.Table) -> ir.Value:
        if self.column is not None:
            return table[self.column]
        return ibis.literal(self.value, dt.string if self.kind == "text" else None)


class _FilterCompiler:
    """Turns the ast of a filter into a predicate over the person table, refusing anything else."""

    def __init__(self, text: str, segment: str, dimensions: Mapping[str, FilterColumn]) -> None:
        self.text = text
        self.segment = segment
        self.dimensions = dimensions

    def fail(self, problem: str) -> ConfigError:
        columns = sorted(self.dimensions)
        return ConfigError(
            f"Segment {self.segment!r} in omnimetrics.toml ([[segments]]): {problem} "
            f"{GRAMMAR} Columns: {columns}."
        )

    def token(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or type(node).__name__

    def refuse(self, node: ast.AST) -> ConfigError:
        what = _WHAT.get(type(node), "not part of the filter language")
        return self.fail(f"`{self.token(node)}` is not allowed ({what}).")

    def predicate(self, node: ast.AST) -> Predicate:
        if isinstance(node, ast.BoolOp):
            parts = [self.predicate(value) for value in node.values]
            combine = ibis.and_ if isinstance(node.op, ast.And) else ibis.or_
            return lambda t: combine(*(part(t) for part in parts))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.predicate(node.operand)
            return lambda t: ~inner(t)
        if isinstance(node, ast.Compare):
            tests: list[Predicate] = []
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                tests.append(self.comparison(node, left, op, right))
                left = right
            return lambda t: ibis.and_(*(test(t) for test in tests))
        if isinstance(node, ast.Name | ast.Constant):
            raise self.fail(f"`{self.token(node)}` is not a condition; compare it, e.g. "
                            f"`{self.token(node)} == ...`.")  # fmt: skip
        raise self.refuse(node)

    def operand(self, node: ast.AST) -> _Operand:
        if isinstance(node, ast.Name):
            dimension = self.dimensions.get(node.id)
            if dimension is None:
                raise self.fail(
                    f"unknown column {node.id!r}. " + did_you_mean(node.id, self.dimensions)
                )
            return _Operand(dimension.kind, column=node.id)
        negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        literal = node.operand if isinstance(node, ast.UnaryOp) and negative else node
        if isinstance(literal, ast.Constant):
            value = literal.value
            if isinstance(value, str) and not negative:
                return _Operand("text", value=value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return _Operand("number", value=-value if negative else value)
        raise self.refuse(node)

    def comparison(self, node: ast.AST, left: ast.AST, op: ast.cmpop, right: ast.AST) -> Predicate:
        if isinstance(op, ast.In | ast.NotIn):
            return self.membership(node, left, op, right)
        compare = _COMPARE.get(type(op))
        if compare is None:  # `is`, `is not`
            raise self.fail(f"`{self.token(node)}`: use == or != to compare.")
        a, b = self.operand(left), self.operand(right)
        if a.column is None and b.column is None:
            raise self.fail(f"`{self.token(node)}` compares two constants; name a column.")
        if a.kind != b.kind:
            raise self.fail(
                f"`{self.token(node)}` compares {a.kind} with {b.kind}; "
                "quote text values ('25-34') and leave numbers bare (r_score >= 4)."
            )
        return lambda t: compare(a.expr(t), b.expr(t)).fill_null(False)

    def membership(self, node: ast.AST, left: ast.AST, op: ast.cmpop, right: ast.AST) -> Predicate:
        column = self.operand(left)
        if column.column is None:
            raise self.fail(f"`{self.token(node)}`: the left of `in` must be a column.")
        items = right.elts if isinstance(right, ast.Tuple | ast.List | ast.Set) else [right]
        values = [self.operand(item) for item in items]
        if not values or any(v.column is not None for v in values):
            raise self.fail(f"`{self.token(node)}`: `in` takes a list of values, e.g. ('a', 'b').")
        if any(v.kind != column.kind for v in values):
            raise self.fail(f"`{self.token(node)}`: the values must all be {column.kind}.")
        name = column.column
        literals = [v.value for v in values]
        negate = isinstance(op, ast.NotIn)

        def test(t: ir.Table) -> ir.BooleanValue:
            inside = t[name].isin(literals)
            return (~inside if negate else inside).fill_null(False)

        return test


def compile_filter(
    where: str, *, segment: str, dimensions: Mapping[str, FilterColumn]
) -> Predicate:
    """The `where` of segment `segment` as a predicate over a table holding the `dimensions`."""
    compiler = _FilterCompiler(where, segment, dimensions)
    if not where.strip():
        raise compiler.fail("`where` must be a non-empty text.")
    if len(where) > MAX_FILTER_LENGTH:
        raise compiler.fail(f"`where` is longer than {MAX_FILTER_LENGTH} characters.")
    text = where.strip()
    compiler.text = text
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as exc:
        hints = []
        if re.search(r"(?<![=!<>])=(?!=)", text):
            hints.append("compare with == (not =)")
        if "<>" in text:
            hints.append("write != (not <>)")
        if re.search(r"\b(AND|OR|NOT|IN)\b", text):
            hints.append("write and, or, not, in in lower case")
        if '"' not in text and "'" not in text and re.search(r"[=<>]\s*[A-Za-z]", text):
            hints.append("quote text values")
        where_hint = f" ({'; '.join(hints)})" if hints else ""
        offset = getattr(exc, "offset", None)
        at = f" at character {offset}" if offset else ""
        raise compiler.fail(f"cannot read `{text}`{at}{where_hint}.") from None
    return compiler.predicate(tree.body)

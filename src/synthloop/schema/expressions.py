"""Predicate expressions: parsed into an allow-listed syntax tree and evaluated without ``eval``.

A predicate travels inside ``schema.json``, so a model folder received from someone else carries
expressions written by someone else. ``DataFrame.eval`` resolves ``@name`` to module globals and
allows attribute access and calls, which is enough to run a shell command. Here the expression is
parsed with :mod:`ast` (parsing never runs code), every node is checked against a short allow-list,
and a small vectorised evaluator walks the tree over pandas/numpy. Nothing reaches ``eval``.

Allowed: column names (bare, or in backticks for names with spaces), number/string/True/False/None
literals, comparisons (also chained, and ``in``/``not in`` a list of literals), arithmetic on numbers,
``and``/``or``/``not`` and ``&``/``|``/``~`` (element-wise, as in ``DataFrame.eval``), and the column
methods ``isin([...])``, ``isna()``/``notna()`` (``isnull``/``notnull``). Everything else is refused
with a message that names the construct.
"""

from __future__ import annotations

import ast
import operator
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import ConstraintError, SchemaError

MAX_LENGTH = 10_000       # characters; a longer "rule" is not a rule a person wrote
_MAX_DEPTH = 100          # nesting of the syntax tree; deeper trees would exhaust the evaluator's stack
_METHODS = {"isin": 1, "isna": 0, "notna": 0, "isnull": 0, "notnull": 0}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_LOGICAL: dict[type, Callable[[Any, Any], Any]] = {ast.BitAnd: operator.and_, ast.BitOr: operator.or_}
_NODE_NAMES = {
    ast.Attribute: "attribute access", ast.Call: "function call", ast.Subscript: "subscript",
    ast.Lambda: "lambda", ast.NamedExpr: "assignment expression ':='", ast.IfExp: "conditional expression",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression", ast.Dict: "dict literal", ast.JoinedStr: "f-string",
    ast.Starred: "starred expression", ast.Await: "await", ast.Yield: "yield", ast.Slice: "slice",
}


class _Refused(Exception):
    """A construct outside the allow-list (becomes a SchemaError naming it)."""


@dataclass(frozen=True)
class ParsedExpression:
    """A checked expression tree and the columns it reads."""

    source: str
    tree: ast.expr
    columns: tuple[str, ...]
    _aliases: Mapping[str, str]        # backtick placeholder -> column name

    def evaluate(self, data: pd.DataFrame) -> np.ndarray:
        """One bool per row of ``data``; raises ConstraintError when the data does not fit the rule."""
        lookup = {unicodedata.normalize("NFKC", str(c)): c for c in data.columns}
        try:
            result = _Evaluator(data, lookup, self._aliases).visit(self.tree)
        except ConstraintError:
            raise
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ConstraintError(f"Predicate {self.source!r} failed on the data: {exc}") from None
        result = _as_bool(result, "the predicate's result")
        if not isinstance(result, np.ndarray):
            raise ConstraintError(f"Predicate {self.source!r} must give one True/False per row; it does not "
                                  "read any column.")
        return result


def parse_predicate(source: str) -> ParsedExpression:
    """Check ``source`` against the allow-list; raise SchemaError naming the first refused construct."""
    if not isinstance(source, str):
        raise SchemaError(f"A predicate expression must be a string, got {type(source).__name__}.")
    if len(source) > MAX_LENGTH:
        raise SchemaError(f"Predicate expression is {len(source):,} characters long; the limit is {MAX_LENGTH:,}.")
    try:
        text, aliases = _replace_backticks(source)
        try:
            tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError as exc:
            raise _Refused(f"it is not a valid expression ({exc.msg})") from None
        except ValueError as exc:                            # e.g. a NUL character
            raise _Refused(f"it is not a valid expression ({exc})") from None
        except (RecursionError, MemoryError):
            raise _Refused("it is nested too deeply") from None
        columns = _check(tree, aliases, text.strip())
    except _Refused as exc:
        raise SchemaError(f"Predicate {_short(source)} was refused: {exc}. A predicate may use column names, "
                          "literals, comparisons, arithmetic, and/or/not, &/|/~, isin([...]), isna() and "
                          "notna().") from None
    return ParsedExpression(source, tree, columns, aliases)


# ---------------------------------------------------------------------- parsing
def _replace_backticks(source: str) -> tuple[str, dict[str, str]]:
    """Swap `` `any name` `` for placeholder identifiers; refuse ``@name`` outside string literals."""
    out: list[str] = []
    aliases: dict[str, str] = {}
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char in "'\"":
            end = _string_end(source, i)
            out.append(source[i:end])
            i = end
        elif char == "`":
            end = source.find("`", i + 1)
            if end < 0:
                raise _Refused("a backtick-quoted column name is not closed")
            placeholder = f"_bt{len(aliases)}_{_unused_suffix(source)}"
            aliases[placeholder] = source[i + 1:end]
            out.append(placeholder)
            i = end + 1
        elif char == "@":
            name = re.match(r"@\s*([\w.]*)", source[i:])
            raise _Refused(f"local variable reference '@{name.group(1) if name else ''}' is not allowed "
                           "in a predicate")
        else:
            out.append(char)
            i += 1
    return "".join(out), aliases


def _string_end(source: str, start: int) -> int:
    quote = source[start:start + 3] if source[start:start + 3] in ("'''", '"""') else source[start]
    i = start + len(quote)
    while i < len(source):
        if source[i] == "\\":
            i += 2
        elif source.startswith(quote, i):
            return i + len(quote)
        else:
            i += 1
    return len(source)           # unterminated: the parser reports it


def _unused_suffix(source: str) -> str:
    suffix = 0
    while f"_{suffix}" in source:
        suffix += 1
    return str(suffix)


def _check(tree: ast.expr, aliases: Mapping[str, str], text: str) -> tuple[str, ...]:
    """Walk the tree, refusing what is not allowed; return the column names read, in order.

    Names are returned as written (``ast`` NFKC-normalises identifiers: ``ﬁle`` becomes ``file``).
    """
    columns: list[str] = []

    def visit(node: ast.AST, depth: int, literal_list: bool = False) -> None:
        if depth > _MAX_DEPTH:
            raise _Refused("it is nested too deeply")
        if isinstance(node, ast.Name):
            if node.id.startswith("__"):
                raise _Refused(f"the name '{node.id}' is not allowed in a predicate")
            name = aliases.get(node.id) or ast.get_source_segment(text, node) or node.id
            if name not in columns:
                columns.append(name)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (bool, int, float, str, type(None))):
                raise _Refused(f"the literal {node.value!r:.40} is not allowed in a predicate")
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            if not literal_list:
                raise _Refused("a list is allowed only after 'in' or inside isin([...])")
            for item in node.elts:
                value = item.operand if isinstance(item, ast.UnaryOp) and isinstance(item.op, ast.USub) else item
                if not isinstance(value, ast.Constant):
                    raise _Refused("a list in a predicate may hold literals only")
                visit(value, depth + 1)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                visit(value, depth + 1)
        elif isinstance(node, ast.UnaryOp):
            visit(node.operand, depth + 1)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITHMETIC and type(node.op) not in _LOGICAL:
                raise _Refused(f"the operator '{_operator_symbol(node.op)}' is not allowed in a predicate")
            visit(node.left, depth + 1)
            visit(node.right, depth + 1)
        elif isinstance(node, ast.Compare):
            visit(node.left, depth + 1)
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)):
                    visit(right, depth + 1, literal_list=True)
                elif type(op) in _COMPARE:
                    visit(right, depth + 1)
                else:
                    raise _Refused(f"the comparison '{_operator_symbol(op)}' is not allowed in a predicate")
        elif isinstance(node, ast.Call):
            _check_method(node)
            visit(node.func.value, depth + 1)            # type: ignore[attr-defined]
            for arg in node.args:
                visit(arg, depth + 1, literal_list=True)
        elif isinstance(node, ast.Attribute):
            raise _Refused(f"attribute access '.{_first_attribute(node)}' is not allowed in a predicate")
        else:
            what = _NODE_NAMES.get(type(node), type(node).__name__)
            raise _Refused(f"{what} is not allowed in a predicate")

    visit(tree, 0)
    return tuple(columns)


def _check_method(node: ast.Call) -> None:
    func = node.func
    if not isinstance(func, ast.Attribute):
        name = func.id if isinstance(func, ast.Name) else type(func).__name__
        raise _Refused(f"function call '{name}(...)' is not allowed in a predicate")
    if func.attr not in _METHODS or not isinstance(func.value, ast.Name):
        raise _Refused(f"attribute access '.{_first_attribute(func)}' is not allowed in a predicate")
    if node.keywords or len(node.args) != _METHODS[func.attr]:
        shape = "one list of literals" if _METHODS[func.attr] else "no arguments"
        raise _Refused(f"'.{func.attr}()' takes {shape}")
    if func.attr == "isin" and not isinstance(node.args[0], (ast.List, ast.Tuple, ast.Set)):
        raise _Refused("isin() takes a list of literals, e.g. isin(['a', 'b'])")


def _first_attribute(node: ast.Attribute) -> str:
    """The attribute nearest the start of a chain: ``io`` in ``pd.io.common.os.system``."""
    while isinstance(node.value, ast.Attribute):
        node = node.value
    return node.attr


def _operator_symbol(op: ast.AST) -> str:
    symbols = {ast.LShift: "<<", ast.RShift: ">>", ast.BitXor: "^", ast.MatMult: "@",
               ast.Is: "is", ast.IsNot: "is not"}
    return symbols.get(type(op), type(op).__name__)


def _short(source: str) -> str:
    return repr(source if len(source) <= 120 else source[:117] + "...")


# ---------------------------------------------------------------------- evaluation
class _Evaluator:
    """Evaluates a checked tree: columns become Series, literals stay Python values."""

    def __init__(self, data: pd.DataFrame, lookup: Mapping[str, Any], aliases: Mapping[str, str]):
        self.data, self.lookup, self.aliases = data, lookup, aliases

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return self.column(node.id)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return [self.visit(item) for item in node.elts]
        if isinstance(node, ast.BoolOp):
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            values = [_as_bool(self.visit(v), "'and'/'or'") for v in node.values]
            result = values[0]
            for value in values[1:]:
                result = combine(result, value)
            return result
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            column = self.visit(node.func.value)                     # type: ignore[attr-defined]
            method = node.func.attr                                  # type: ignore[attr-defined]
            if method == "isin":
                return column.isin(self.visit(node.args[0]))
            return column.isna() if method in ("isna", "isnull") else column.notna()
        raise ConstraintError(f"Unexpected expression node {type(node).__name__}.")   # _check refused it

    def column(self, identifier: str) -> pd.Series:
        name = self.aliases.get(identifier, identifier)
        key = unicodedata.normalize("NFKC", name)
        if key not in self.lookup:
            raise ConstraintError(f"Predicate names column '{name}', which is not in the data; columns are "
                                  f"{list(map(str, self.data.columns))}.")
        return self.data[self.lookup[key]]

    def unary(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if isinstance(node.op, (ast.Not, ast.Invert)):
            truth = _as_bool(value, "'not'/'~'")
            return ~truth if isinstance(truth, np.ndarray) else not truth
        _check_number(value, "unary minus")
        return -value if isinstance(node.op, ast.USub) else +value

    def binary(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if type(node.op) in _LOGICAL:
            return _LOGICAL[type(node.op)](_as_bool(left, "'&'/'|'"), _as_bool(right, "'&'/'|'"))
        _check_number(left, "arithmetic")
        _check_number(right, "arithmetic")
        if isinstance(node.op, ast.Pow):      # float powers: 10 ** 10 ** 10 is inf, not an hour of big-int work
            left, right = _as_float(left), _as_float(right)
        with np.errstate(all="ignore"):
            return _ARITHMETIC[type(node.op)](left, right)

    def compare(self, node: ast.Compare) -> Any:
        result: Any = None
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(left, pd.Series):
                    raise ConstraintError("The left side of 'in' must be a column.")
                step = left.isin(right)
                step = ~step if isinstance(op, ast.NotIn) else step
            else:
                step = _COMPARE[type(op)](left, right)
            step = _as_bool(step, "a comparison")
            result = step if result is None else result & step
            left = right
        return result


def _as_bool(value: Any, where: str) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, pd.Series) and (pd.api.types.is_bool_dtype(value.dtype) or value.dtype == object):
        if value.dtype == object and not value.map(lambda v: isinstance(v, (bool, np.bool_)) or v is None).all():
            raise ConstraintError(f"{where} needs True/False values, got values of the column type.")
        return value.fillna(False).to_numpy(dtype=bool)
    if isinstance(value, np.ndarray) and value.dtype == bool:
        return value
    raise ConstraintError(f"{where} needs True/False values, got {_describe(value)}.")


def _check_number(value: Any, what: str) -> None:
    if isinstance(value, pd.Series):
        if pd.api.types.is_bool_dtype(value.dtype) or not (
                pd.api.types.is_numeric_dtype(value.dtype) or pd.api.types.is_datetime64_any_dtype(value.dtype)
                or pd.api.types.is_timedelta64_dtype(value.dtype)):
            raise ConstraintError(f"{what} needs numbers, got column '{value.name}' of type {value.dtype}.")
    elif isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ConstraintError(f"{what} needs numbers, got {_describe(value)}.")


def _as_float(value: Any) -> Any:
    return value.astype("float64") if isinstance(value, pd.Series) else np.float64(value)


def _describe(value: Any) -> str:
    if isinstance(value, pd.Series):
        return f"column '{value.name}' of type {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"values of type {value.dtype}"
    return f"{type(value).__name__} {value!r:.40}"

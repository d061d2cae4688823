"""What a declared expression may cost, checked on its syntax tree before sympy sees it.

sympy computes with exact integers, so ``9**9**9**9`` or ``x**(10**10**10)`` would build astronomically large
numbers and never return; a 30th derivative makes autograd's graphs grow until memory runs out; and
``1e308*1e308`` folds to a number no float holds. Each bound below turns such an input into one line:

- text at most :data:`MAX_CHARS` characters, :data:`MAX_NODES` syntax-tree nodes nested at most
  :data:`MAX_DEPTH` deep;
- every constant sub-expression (numbers, ``pi``, ``E``, parameters) folded in float64 must stay finite and,
  unless exactly 0, between 1e-300 and 1e300 in magnitude (no overflow, no underflow hiding a huge integer);
- a constant exponent at most :data:`MAX_EXPONENT` in magnitude (``x**2``, ``u**3``, ``10**20``: fine);
- the total derivative order of any term (``u_xxt``: 3; ``diff(u_x, x, 2)``: 3) at most the declaration's
  ``max_derivative_order`` (default :data:`MAX_DERIVATIVE_ORDER`; a user may raise it).
"""
from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

MAX_CHARS = 10_000
MAX_NODES = 2_000
MAX_DEPTH = 200
MAX_EXPONENT = 1_000
MAX_MAGNITUDE = 1e300
MAX_DERIVATIVE_ORDER = 4

_ARITH: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}
_CONSTANTS = {"pi": math.pi, "E": math.e}


class Limits:
    """Checks one parsed expression; ``fail(message)`` returns the ConfigError to raise (it names the key
    path and the text). ``parameters``: name → value; ``derivative(name)``: ('u', ('x', 'x')) or None."""

    def __init__(self, fail: Callable[[str], Exception], parameters: dict[str, float],
                 derivative: Callable[[str], tuple[str, tuple[str, ...]] | None], inputs: tuple[str, ...],
                 max_order: int = MAX_DERIVATIVE_ORDER):
        self.fail, self.parameters, self.derivative = fail, parameters, derivative
        self.inputs, self.max_order = inputs, max_order

    @staticmethod
    def check_text(text: str, fail: Callable[[str], Exception]) -> None:
        if len(text) > MAX_CHARS:
            raise fail(f"expression too long ({len(text)} characters; at most {MAX_CHARS})")

    def check(self, tree: ast.AST) -> None:
        nodes = sum(isinstance(n, ast.expr) for n in ast.walk(tree))
        if nodes > MAX_NODES:
            raise self.fail(f"expression too large ({nodes} syntax nodes; at most {MAX_NODES})")
        depth, stack = 0, [(tree, 1)]
        while stack:  # iteratively: the checks below, and sympy, recurse
            node, d = stack.pop()
            depth = max(depth, d)
            stack.extend((c, d + 1) for c in ast.iter_child_nodes(node))
        if depth > MAX_DEPTH:
            raise self.fail(f"expression nested too deeply ({depth} levels; at most {MAX_DEPTH})")
        self.fold(tree)
        order = self.order(tree)
        if order > self.max_order:
            raise self.fail(f"derivative of order {order} exceeds max_derivative_order={self.max_order} (its cost "
                            f"grows steeply with the order); raise 'max_derivative_order' in the declaration "
                            f"if you mean it")

    # --- constants -----------------------------------------------------------------------------------
    def _bounded(self, value: float, node: ast.AST) -> float:
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise self.fail(f"'{ast.unparse(node)}' overflows: beyond ±{MAX_MAGNITUDE:g} (not a finite float)")
        if value != 0 and abs(value) < 1 / MAX_MAGNITUDE:
            raise self.fail(f"'{ast.unparse(node)}' is below {1 / MAX_MAGNITUDE:g} in magnitude; write 0 "
                            f"or rescale the problem")
        return value

    def fold(self, node: ast.AST) -> float | None:
        """The float value of a constant sub-tree (None when it depends on inputs or fields), checking
        every constant sub-tree and every constant exponent on the way."""
        if isinstance(node, ast.Expression):
            return self.fold(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            try:
                return self._bounded(float(node.value), node)
            except OverflowError:
                raise self.fail(f"number literal with {len(str(node.value))} digits overflows a float") from None
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            value = self.parameters.get(node.id)
            return None if value is None else float(value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.fold(node.operand)
            return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.BinOp):
            left, right = self.fold(node.left), self.fold(node.right)
            if isinstance(node.op, ast.Pow):
                return self._power(node, left, right)
            if left is None or right is None or type(node.op) not in _ARITH:
                return None
            try:
                value = _ARITH[type(node.op)](left, right)
            except ZeroDivisionError:
                return None  # reported as a division by zero when the expression is compiled
            if value == 0 and isinstance(node.op, (ast.Mult, ast.Div)) and left != 0:
                raise self.fail(f"'{ast.unparse(node)}' underflows to 0; write 0 or rescale the problem")
            return self._bounded(value, node)
        for child in ast.iter_child_nodes(node):  # calls and anything else: check the arguments
            self.fold(child)
        return None

    def _power(self, node: ast.BinOp, base: float | None, exponent: float | None) -> float | None:
        if exponent is not None and abs(exponent) > MAX_EXPONENT:
            raise self.fail(f"exponent '{ast.unparse(node.right)}' = {exponent:.3g} is too large "
                            f"(at most {MAX_EXPONENT} in magnitude)")
        if base is None or exponent is None:
            return None
        try:
            value = base ** exponent
        except OverflowError:
            raise self.fail(f"'{ast.unparse(node)}' overflows: beyond ±{MAX_MAGNITUDE:g}") from None
        except ZeroDivisionError:
            return None
        if isinstance(value, complex):  # (-8)**(1/3): sympy's principal root is complex
            return None
        if value == 0 and base != 0:
            raise self.fail(f"'{ast.unparse(node)}' underflows to 0; write 0 or rescale the problem")
        return self._bounded(value, node)

    # --- derivative order ---------------------------------------------------------------------------
    def order(self, node: ast.AST) -> int:
        """The largest total derivative order in the tree: names like ``u_xx`` plus ``diff(…, x, k)``."""
        if isinstance(node, ast.Name):
            d = self.derivative(node.id)
            return len(d[1]) if d else 0
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "diff" and node.args:
            extra = 0
            for a in node.args[1:]:
                if isinstance(a, ast.Constant) and type(a.value) is int and a.value >= 1:
                    extra += a.value - 1
                elif isinstance(a, ast.Name) and a.id in self.inputs:
                    extra += 1
            return self.order(node.args[0]) + extra
        return max((self.order(c) for c in ast.iter_child_nodes(node)), default=0)

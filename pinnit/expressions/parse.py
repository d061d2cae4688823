"""Safe math expressions for declared problems: text → sympy → a torch function of the fields.

Text is parsed with Python's :mod:`ast` (a parser, nothing is evaluated) and only a whitelist of node
kinds is turned into sympy: numbers, ``+ − * / ** ^``, the declared names and the functions in
:data:`FUNCTIONS`. A field ``u`` is the sympy function u(x, t, …) of the inputs, so ``u_xt`` is
∂²u/∂x∂t and ``diff(u**2, x)`` = 2·u·u_x by sympy's chain rule. :func:`compile_expr` walks the
resulting tree into nested closures that read inputs, fields and derivatives from an *environment*
with ``coord(name)``, ``value(field)`` and ``d(field, *inputs)`` — :class:`~pinnit.derivatives.fields.Fields`
itself, so declared problems use the same derivative engine (and cache) as built-in ones.
"""
from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import reduce

import sympy as sp
import torch
from sympy.core.function import AppliedUndef

from ..core.errors import ConfigError, PinnitError, did_you_mean
from ..derivatives.fields import Fields
from .limits import MAX_DERIVATIVE_ORDER, Limits

#: name in an expression → sympy function (the whitelist; ``diff``, ``pi`` and ``E`` besides)
FUNCTIONS: dict[str, Callable] = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt,
    "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh, "atan": sp.atan, "asin": sp.asin, "acos": sp.acos,
    "abs": sp.Abs, "sign": sp.sign, "erf": sp.erf, "erfc": sp.erfc, "Max": sp.Max, "Min": sp.Min, "Heaviside": sp.Heaviside,
}
CONSTANTS = {"pi": sp.pi, "E": sp.E}
RESERVED = {*FUNCTIONS, *CONSTANTS, "diff"}


def _heaviside(a: torch.Tensor, h0: torch.Tensor | float = 0.5) -> torch.Tensor:
    return (a > 0).to(a.dtype) + h0 * (a == 0).to(a.dtype)


#: sympy class → torch function (what compile_expr can evaluate besides + · ^)
TORCH: dict[type, Callable[..., torch.Tensor]] = {
    sp.sin: torch.sin, sp.cos: torch.cos, sp.tan: torch.tan, sp.exp: torch.exp, sp.log: torch.log,
    sp.tanh: torch.tanh, sp.sinh: torch.sinh, sp.cosh: torch.cosh, sp.atan: torch.atan, sp.asin: torch.asin,
    sp.acos: torch.acos, sp.Abs: torch.abs, sp.sign: torch.sign, sp.erf: torch.special.erf, sp.erfc: torch.special.erfc,
    sp.Heaviside: _heaviside,
    sp.Max: lambda *a: reduce(torch.maximum, a), sp.Min: lambda *a: reduce(torch.minimum, a),
}

# what an expression may refer to, by place: PDE residuals, boundary values, transforms, constants
EQUATION = frozenset({"input", "parameter", "field", "derivative", "function"})
VALUE = frozenset({"input", "parameter", "function"})
TRANSFORM = frozenset({"input", "parameter", "field", "function_at"})  # f(0): a function input at a fixed point
CONSTANT = frozenset({"parameter"})
PLACES = {"equation": EQUATION, "value": VALUE, "transform": TRANSFORM, "constant": CONSTANT}

_BINOPS = {ast.Add: sp.Add, ast.Sub: lambda a, b: a - b, ast.Mult: sp.Mul, ast.Div: lambda a, b: a / b,
           ast.Pow: sp.Pow}
_EQUALS = re.compile(r"(?<![<>=!])=(?!=)")


def _one_line(text: str, limit: int = 0) -> str:
    """``text`` on one line; with ``limit``, cut to that many characters (an error quotes it)."""
    text = " ".join(str(text).split())
    return text if not limit or len(text) <= limit else text[: limit - 1] + "…"


class _Names:
    """Just enough of a Fields for its ``parse`` (``u_xt`` → ('u', ('x', 't'))), without a batch."""

    parse = Fields.parse

    def __init__(self, inputs: Sequence[str], outputs: Sequence[str]):
        self.inputs, self.outputs = tuple(inputs), tuple(outputs)


class Namespace:
    """The declared names: inputs (x, t), fields (u), parameters (ν = value) and function inputs (f, a
    function of one input, read from the environment's ``function(name)``); checked to be distinct."""

    def __init__(self, inputs: Sequence[str], fields: Sequence[str], parameters: Mapping[str, float],
                 path: str = "problem", functions: Mapping[str, str] | None = None):
        self.inputs, self.fields, self.parameters = tuple(inputs), tuple(fields), dict(parameters)
        self.functions_of = dict(functions or {})  # function input → the input it is a function of
        seen: dict[str, str] = {}
        for kind, names in (("input", self.inputs), ("field", self.fields), ("parameter", self.parameters),
                            ("function", self.functions_of)):
            for i, name in enumerate(names):
                key = f"{path}.fields[{i}]" if kind == "field" else f"{path}.{kind}s.{name}"
                if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
                    raise ConfigError(key, f"'{name}' is not a valid name (letters, digits, '_'; no keyword)")
                if name in RESERVED:
                    raise ConfigError(key, f"'{name}' is reserved (a function or constant); rename the {kind}")
                if kind == "field" and "_" in name:
                    raise ConfigError(key, f"field '{name}' contains '_', which starts derivative names like u_x")
                if name in seen:
                    raise ConfigError(key, f"'{name}' is already declared as {seen[name]}")
                seen[name] = f"an {kind}" if kind == "input" else f"a {kind}"
        self.symbols = {n: sp.Symbol(n, real=True) for n in (*self.inputs, *self.parameters, *self.functions_of)}
        self.at_points: dict[sp.Symbol, tuple[str, float]] = {}  # f(0.5) → ("f", 0.5): one value per function
        args = [self.symbols[n] for n in self.inputs]
        self.functions = {n: sp.Function(n, real=True)(*args) for n in self.fields}
        self._names = _Names(self.inputs, self.fields)
        for kind, names in (("input", self.inputs), ("parameter", self.parameters)):
            for name in names:
                if self.derivative(name):
                    raise ConfigError(f"{path}.{kind}s.{name}", f"'{name}' reads as a field's derivative; rename it")

    def at_point(self, name: str, where: float) -> sp.Symbol:
        """The symbol of function input ``name`` read at the fixed point ``where`` (e.g. ``f(0)``, a lid's
        value at its corner): constant in the inputs, one value per function of the batch."""
        symbol = sp.Symbol(f"{name}({where!r})", real=True)
        self.at_points[symbol] = (name, where)
        return symbol

    def derivative(self, name: str) -> tuple[str, tuple[str, ...]] | None:
        """``u_xt`` → ('u', ('x', 't')); None when ``name`` is not a derivative of a field."""
        try:
            field, wrt = self._names.parse(name)
        except KeyError:
            return None
        return (field, wrt) if wrt else None

    def kind(self, name: str) -> str | None:
        if name in self.inputs:
            return "input"
        if name in self.parameters:
            return "parameter"
        if name in self.fields:
            return "field"
        if name in self.functions_of:
            return "function"
        return "derivative" if self.derivative(name) else None

    def known(self, allow: Iterable[str]) -> list[str]:
        allow = set(allow)
        out = [n for n in self.inputs if "input" in allow] + [n for n in self.fields if "field" in allow]
        out += [n for n in self.parameters if "parameter" in allow]
        out += [n for n in self.functions_of if "function" in allow]
        if "derivative" in allow:
            out += [f"{u}_{a}{b}" for u in self.fields for a in ("", *self.inputs) for b in self.inputs]
        return out

    def describe(self, allow: Iterable[str]) -> str:
        allow = set(allow)
        parts = [f"{kind}s {', '.join(names)}" for kind, names in
                 (("input", self.inputs), ("field", self.fields), ("parameter", self.parameters),
                  ("function input", self.functions_of)) if kind.split()[0] in allow and names]
        if "derivative" in allow and self.fields:
            parts.append(f"derivatives like {self.fields[0]}_{self.inputs[0]}")
        return "; ".join(parts) or "numbers only"


class _Builder:
    """AST → sympy for one expression; every error names ``path``, the text and the culprit."""

    def __init__(self, ns: Namespace, text: str, path: str, allow: frozenset[str]):
        self.ns, self.text, self.path, self.allow = ns, _one_line(text, 120), path, allow

    def fail(self, message: str) -> ConfigError:
        return ConfigError(self.path, f"in '{self.text}': {message}")

    def build(self, node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Expression):
            return self.build(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](self.build(node.left), self.build(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.build(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Call):
            return self.call(node)
        what = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
        raise self.fail(f"'{what}' is not allowed (only numbers, names, + - * / ** and whitelisted functions)")

    def name(self, name: str) -> sp.Expr:
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in RESERVED:
            raise self.fail(f"function '{name}' used without arguments")
        kind = self.ns.kind(name)
        if kind is None:
            hint = did_you_mean(name, [*self.ns.known(self.allow), *RESERVED])
            raise self.fail(f"unknown symbol '{name}'{hint}; known: {self.ns.describe(self.allow)}")
        if kind not in self.allow:
            article = "an" if kind == "input" else "a"
            raise self.fail(f"'{name}' is {article} {kind}, not allowed here; use {self.ns.describe(self.allow)}")
        if kind == "field":
            return self.ns.functions[name]
        if kind == "derivative":
            field, wrt = self.ns.derivative(name)
            return sp.diff(self.ns.functions[field], *(self.ns.symbols[v] for v in wrt))
        return self.ns.symbols[name]

    def call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(f"calling '{ast.unparse(node.func)}' is not allowed (only whitelisted functions)")
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(f"'{name}(...)': keyword or starred arguments are not allowed")
        if name == "diff":
            return self.diff(node.args)
        if name in self.ns.functions_of:
            return self.function_at(name, node.args)
        if name not in FUNCTIONS:
            kind = self.ns.kind(name)
            if kind is not None:
                raise self.fail(f"'{name}' is a {kind}, not a function; write {name} without (...)")
            raise self.fail(f"unknown function '{name}'{did_you_mean(name, [*FUNCTIONS, 'diff'])}; "
                            f"allowed: {', '.join(FUNCTIONS)}, diff")
        arity = len(node.args)
        if (arity < 2) if name in ("Max", "Min") else (arity != 1):
            need = "2 or more arguments" if name in ("Max", "Min") else "1 argument"
            raise self.fail(f"'{name}' takes {need}, got {arity}")
        return FUNCTIONS[name](*(self.build(a) for a in node.args))

    def function_at(self, name: str, args: list[ast.expr]) -> sp.Expr:
        """``f(0)``: function input ``f`` at a fixed point (numbers and parameters), in output transforms."""
        if "function_at" not in self.allow:
            raise self.fail(f"'{name}(...)' (a function input at a fixed point) is allowed only in an "
                            f"output_transform; here write {name} for its value at each point")
        if len(args) != 1:
            raise self.fail(f"'{name}(...)' takes 1 argument, the point of {self.ns.functions_of[name]}, "
                            f"got {len(args)}")
        where = self.build(args[0]).subs({self.ns.symbols[k]: v for k, v in self.ns.parameters.items()})
        if not where.is_number or not math.isfinite(float(where)):
            raise self.fail(f"the point in '{name}({ast.unparse(args[0])})' must be a finite number "
                            f"(numbers and parameters only)")
        return self.ns.at_point(name, float(where))

    def diff(self, args: list[ast.expr]) -> sp.Expr:
        """``diff(expr, x)``, ``diff(expr, x, 2)``, ``diff(expr, x, t)``: derivatives by inputs."""
        if "derivative" not in self.allow:
            raise self.fail(f"derivatives (diff) are not allowed here; use {self.ns.describe(self.allow)}")
        if len(args) < 2:
            raise self.fail("diff needs an expression and at least one input, e.g. diff(u, x)")
        spec: list = []
        for a in args[1:]:
            if isinstance(a, ast.Constant) and type(a.value) is int and a.value >= 1 and spec:
                spec[-1] = (spec[-1][0], spec[-1][1] + a.value - 1)
            elif isinstance(a, ast.Name) and a.id in self.ns.inputs:
                spec.append((self.ns.symbols[a.id], 1))
            else:
                shown = ast.unparse(a)
                raise self.fail(f"cannot differentiate by '{shown}'{did_you_mean(shown, self.ns.inputs)}; "
                                f"inputs: {', '.join(self.ns.inputs)}")
        expr = self.build(args[0])
        for name, arg in self.ns.functions_of.items():  # f is a symbol: sympy would take ∂f/∂x = 0
            if self.ns.symbols[name] in expr.free_symbols and any(s == self.ns.symbols[arg] for s, _ in spec):
                raise self.fail(f"cannot differentiate function input '{name}' by '{arg}' (only its values "
                                f"are available)")
        return sp.diff(expr, *spec)


def parse(text: str | float, ns: Namespace, path: str, allow: frozenset[str] | str = EQUATION, *,
          equation: bool = False) -> sp.Expr:
    """Parse ``text`` into sympy using only the names in ``allow`` (a set, or a key of :data:`PLACES`);
    ``equation``: ``lhs = rhs`` → lhs − rhs. ``^`` means power, as in ``x^2``. Raises a one-line
    :class:`ConfigError` at ``path``.
    """
    allow = PLACES[allow] if isinstance(allow, str) else allow
    text = repr(text) if isinstance(text, (int, float)) else str(text)
    sides = _EQUALS.split(text) if equation else [text]
    if len(sides) > 2:
        raise ConfigError(path, f"more than one '=' in '{_one_line(text)}'")
    builder = _Builder(ns, text, path, allow)
    Limits.check_text(text, builder.fail)
    limits = Limits(builder.fail, ns.parameters, ns.derivative, ns.inputs,
                    getattr(ns, "max_derivative_order", MAX_DERIVATIVE_ORDER))
    exprs = []
    for side in sides:
        try:
            tree = ast.parse(side.strip().replace("^", "**"), mode="eval")  # x^2 = x**2, with ** precedence
        except SyntaxError as exc:
            raise builder.fail(f"cannot parse: {exc.msg}") from None
        except (RecursionError, MemoryError):
            raise builder.fail("expression nested too deeply") from None
        limits.check(tree)  # bounded cost before sympy sees it (expression_limits.py)
        exprs.append(builder.build(tree))
    expr = exprs[0] - exprs[1] if len(exprs) == 2 else exprs[0]
    if expr.has(sp.DiracDelta):
        raise builder.fail(f"not differentiable: the derivative gives {expr.atoms(sp.DiracDelta).pop()}")
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise builder.fail(f"not finite: the expression evaluates to {expr}")
    return expr


class Columns:
    """An environment from point columns and raw network outputs (for output transforms, exact solutions)."""

    def __init__(self, x: torch.Tensor, inputs: Sequence[str], y: torch.Tensor | None = None,
                 outputs: Sequence[str] = (), at: Callable[[str, float], torch.Tensor] | None = None):
        self.x, self.inputs, self.y, self.outputs, self.at = x, tuple(inputs), y, tuple(outputs), at

    def coord(self, name: str) -> torch.Tensor:
        return self.x[:, self.inputs.index(name)]

    def value(self, field: str) -> torch.Tensor:
        return self.y[..., self.outputs.index(field)]  # y: N × fields, or B × N × fields (functions × points)

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        raise RuntimeError("no derivatives in this environment")

    def function_at(self, name: str, where: float) -> torch.Tensor:
        """Function input ``name`` at ``where`` for each function (B × 1, broadcast against B × N)."""
        if self.at is None:
            raise PinnitError(f"'{name}({where!r})' needs a function batch (an operator run)")
        return self.at(name, where)


Env = Fields | Columns


def _promote(values: Sequence) -> list[torch.Tensor]:
    like = next((v for v in values if isinstance(v, torch.Tensor)), None)
    dtype, device = (like.dtype, like.device) if like is not None else (torch.float64, None)
    return [v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=dtype, device=device) for v in values]


class Compiled:
    """A compiled expression: ``self(env)`` is a tensor over the environment's points (constants broadcast);
    ``self.fn(env)`` is the raw closure (a float for a constant). ``fields``: the fields it involves."""

    def __init__(self, expr: sp.Expr, fn: Callable[[Env], torch.Tensor | float]):
        self.expr, self.fn = expr, fn
        self.fields = sorted({a.func.__name__ for a in expr.atoms(AppliedUndef)})

    def __call__(self, env: Env) -> torch.Tensor:
        out = self.fn(env)
        return out if isinstance(out, torch.Tensor) and out.dim() == 1 else torch.zeros_like(env.x[:, 0]) + out


def _per_point_set(fn: Callable[[Env], torch.Tensor | float], size: int = 4
                   ) -> Callable[[Env], torch.Tensor | float]:
    """``fn`` (a sub-expression of the inputs alone, e.g. a transform's lift) computed once per point set: its
    value is kept while the environment's points are the same data (same storage, layout and version, e.g. a
    detached view of them) without gradient (jets, evaluation), for the last ``size`` point sets (a loss's terms
    take turns); points that carry gradients (autograd, ZCS) are always recomputed. The points are held, so their
    storage cannot be reused by others while cached."""
    held: dict[tuple, tuple[torch.Tensor, torch.Tensor | float]] = {}  # key → (points, value), oldest first

    def cached(env: Env) -> torch.Tensor | float:
        x = getattr(env, "x", None)
        if not isinstance(x, torch.Tensor) or x.requires_grad or torch.compiler.is_compiling():
            return fn(env)
        try:
            key = (x.data_ptr(), x.shape, x.stride(), x.dtype, x.device, x._version)
        except RuntimeError:  # a tensor without storage (inside torch.func transforms)
            return fn(env)
        if key not in held:
            if len(held) >= size:
                del held[next(iter(held))]
            held[key] = (x, fn(env))
        return held[key][1]

    return cached


def compile_expr(expr: sp.Expr, ns: Namespace, path: str = "", text: str = "") -> Compiled:
    """Compile a parsed expression to closures over an environment (constant sub-trees folded).

    ``text`` (the source) is quoted in errors: a constant that is not finite, a division by zero.
    """
    where = f"in '{_one_line(text)}': " if text else ""
    params = {ns.symbols[k]: float(v) for k, v in ns.parameters.items()}
    inputs = {ns.symbols[k] for k in (*ns.inputs, *ns.functions_of)}  # varying from point to point
    inputs |= set(ns.at_points)  # varying from function to function
    functions = set(ns.functions_of)

    def constant(e: sp.Basic) -> bool:
        return not (e.free_symbols & inputs) and not e.atoms(AppliedUndef)

    coordinates = {ns.symbols[k] for k in ns.inputs}
    cached_above: list[bool] = [False]  # inside a kept sub-expression: its parts are not kept again

    def node(e: sp.Basic) -> Callable[[Env], torch.Tensor | float]:
        if not cached_above[0] and e.free_symbols & coordinates and e.free_symbols <= coordinates | set(params) \
                and not e.atoms(AppliedUndef) and not isinstance(e, sp.Symbol):
            cached_above[0] = True  # the largest sub-expression of the inputs alone is kept, once
            try:
                return _per_point_set(node_(e))
            finally:
                cached_above[0] = False
        if constant(e) and not e.is_Number:
            try:  # parameters and numbers only: evaluate once, in float64
                c = float(node_(e)(None))
            except (ArithmeticError, ValueError):  # e.g. 1e308**2, 1/0
                c = math.nan
            if not math.isfinite(c):
                raise ConfigError(path, f"{where}'{e}' is not a finite number for the given parameters")
            return lambda env: c
        return node_(e)

    def node_(e: sp.Basic) -> Callable[[Env], torch.Tensor | float]:
        if e.is_Number or isinstance(e, sp.NumberSymbol):
            c = float(e)
            if not math.isfinite(c):  # sympy folds 1e308*1e308 to a Float no float64 holds
                raise ConfigError(path, f"{where}'{e}' is not a finite float64 number")
            return lambda env: c
        if isinstance(e, sp.Symbol):
            if e in params:
                c = params[e]
                return lambda env: c
            if e in ns.at_points:
                name, point = ns.at_points[e]
                return lambda env: env.function_at(name, point)
            name = e.name
            if name in functions:
                return lambda env: env.function(name)
            return lambda env: env.coord(name)
        if isinstance(e, AppliedUndef):
            name = e.func.__name__
            return lambda env: env.value(name)
        if isinstance(e, sp.Derivative) and isinstance(e.expr, AppliedUndef):
            field = e.expr.func.__name__
            wrt = tuple(v.name for v, n in e.variable_count for _ in range(int(n)))
            return lambda env: env.d(field, *wrt)
        if isinstance(e, sp.Add):
            terms = [node(a) for a in e.args]
            return lambda env: reduce(lambda s, t: s + t(env), terms[1:], terms[0](env))
        if isinstance(e, sp.Mul):
            num = [a for a in e.args if not (a.is_Pow and a.exp.is_Integer and a.exp < 0)]
            den = [1 / a for a in e.args if a not in num]  # x·y⁻¹ → x / y (exact division)
            top = [node(a) for a in num] or [lambda env: 1.0]
            prod = lambda env: reduce(lambda p, f: p * f(env), top[1:], top[0](env))  # noqa: E731
            if not den:
                return prod
            bottom = node(sp.Mul(*den))
            if constant(sp.Mul(*den)) and bottom(None) == 0:
                raise ConfigError(path, f"{where}division by zero for the given parameters")
            return lambda env: prod(env) / bottom(env)
        if isinstance(e, sp.Pow):
            base = node(e.base)
            if e.exp == sp.Rational(1, 2):
                return lambda env: torch.sqrt(*_promote([base(env)]))
            if e.exp.is_Integer:
                k = int(e.exp)
                return lambda env: base(env) ** k
            exponent = node(e.exp)
            return lambda env: torch.pow(*_promote([base(env), exponent(env)]))
        if type(e) in TORCH:
            fn, args = TORCH[type(e)], [node(a) for a in e.args]
            return lambda env: fn(*_promote([a(env) for a in args]))
        raise ConfigError(path, f"{where}cannot evaluate '{type(e).__name__}' in '{e}'; use +, -, *, /, ** and "
                                f"{', '.join(FUNCTIONS)}")

    fn = node(expr)
    return Compiled(expr, fn)

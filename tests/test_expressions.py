"""The expression language of declared problems: parsing, compiling to torch, and one-line errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnit.core.errors import ConfigError
from pinnit.derivatives.fields import Fields
from pinnit.expressions.parse import CONSTANT, EQUATION, TRANSFORM, VALUE, Columns, Namespace, compile_expr, parse

PATH = "problem.equations[0]"


@pytest.fixture(scope="module")
def ns():
    return Namespace(["x", "t"], ["u", "v"], {"nu": 0.3, "k": 2.0})


def _fields(ns, n=40):
    x = torch.rand(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 0.1

    def model(z):  # u = sin(x)·t², v = x³ + x·t
        return torch.stack([torch.sin(z[:, 0]) * z[:, 1] ** 2, z[:, 0] ** 3 + z[:, 0] * z[:, 1]], 1)

    return Fields(x, ns.inputs, ns.fields, model)


def _run(text, ns, f, allow=EQUATION, equation=False):
    return compile_expr(parse(text, ns, PATH, allow, equation=equation), ns, PATH)(f)


def test_derivative_names_and_diff_use_the_field_engine(ns):
    f = _fields(ns)
    x, t = f["x"], f["t"]
    u_x, u_tt, u_xt = torch.cos(x) * t**2, 2 * torch.sin(x), 2 * torch.cos(x) * t
    torch.testing.assert_close(_run("u_x", ns, f), u_x, rtol=0, atol=1e-14)
    torch.testing.assert_close(_run("diff(u, t, 2)", ns, f), u_tt, rtol=0, atol=1e-14)
    torch.testing.assert_close(_run("diff(u, x, t) - u_tx", ns, f), torch.zeros_like(x), rtol=0, atol=1e-14)
    torch.testing.assert_close(_run("diff(v, x, 3)", ns, f), torch.full_like(x, 6.0), rtol=0, atol=1e-12)
    # chain and product rules come from sympy: d/dx (u²/2) = u·u_x, d/dt (x·u_x) = x·u_xt
    torch.testing.assert_close(_run("diff(u**2/2, x)", ns, f), torch.sin(x) * t**2 * u_x, rtol=0, atol=1e-14)
    torch.testing.assert_close(_run("diff(x*u_x, t)", ns, f), x * u_xt, rtol=0, atol=1e-14)


def test_equations_parameters_and_caret_power(ns):
    f = _fields(ns)
    x, t = f["x"], f["t"]
    # u_t + u·u_x + ν·u_xx with u_t = 2t·sin x, u_x = t²·cos x, u_xx = −t²·sin x
    want = 2 * torch.sin(x) * t + torch.sin(x) * t**2 * torch.cos(x) * t**2 - 0.3 * torch.sin(x) * t**2
    got = _run("u_t + u*u_x = -nu*u_xx", ns, f, equation=True)  # lhs = rhs → lhs − rhs
    torch.testing.assert_close(got, want, rtol=0, atol=1e-14)
    torch.testing.assert_close(_run("x^k + 1/2", ns, f), x**2 + 0.5, rtol=0, atol=1e-15)


def test_functions_match_sympy_values(ns):
    x = torch.tensor([[-1.5, 0.2], [0.0, 0.5], [0.7, 0.9]], dtype=torch.float64)
    env = Columns(x, ns.inputs)
    text = ("sin(x) + cos(t) + tan(t) + exp(x) + log(t) + sqrt(t) + tanh(x) + sinh(x) + cosh(x) + atan(x) "
            "+ asin(t) + acos(t) + abs(x) + sign(x) + erf(x) + Max(x, t, 0) + Min(x, -t) + Heaviside(x) + pi + E")
    expr = parse(text, ns, PATH, VALUE)
    got = compile_expr(expr, ns, PATH)(env)
    for i, (a, b) in enumerate(x.tolist()):
        want = float(expr.subs({ns.symbols["x"]: a, ns.symbols["t"]: b}).evalf(30))
        assert got[i].item() == pytest.approx(want, rel=1e-13, abs=1e-13)
    assert got.dtype == torch.float64 and got.shape == (3,)


def test_constants_fold_and_broadcast(ns):
    env = Columns(torch.zeros(4, 2, dtype=torch.float32), ns.inputs)
    c = compile_expr(parse("exp(-nu*k) + Max(k, 1)", ns, PATH, CONSTANT), ns, PATH)
    assert c.fn(None) == pytest.approx(math.exp(-0.6) + 2.0, rel=1e-15)
    out = c(env)
    assert out.shape == (4,) and out.dtype == torch.float32


def test_transform_environment_reads_raw_outputs(ns):
    x = torch.tensor([[0.5, 2.0]], dtype=torch.float64)
    y = torch.tensor([[3.0, -1.0]], dtype=torch.float64)
    c = compile_expr(parse("t*u - v/x", ns, PATH, TRANSFORM), ns, PATH)
    assert c(Columns(x, ns.inputs, y, ns.fields)).item() == pytest.approx(2.0 * 3.0 + 1.0 / 0.5)


# random expression trees: the tree-walking compiler must agree with sympy's own evaluation
_leaf = st.sampled_from(["x", "t", "nu", "k", "2", "0.5", "pi"])
_unary = st.sampled_from(["sin", "cos", "tanh", "atan", "erf", "exp", "abs"])


def _tree(children):
    return st.one_of(
        st.tuples(_unary, children).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
        children.map(lambda c: f"({c})/(2 + x**2)"),
        children.map(lambda c: f"({c})**2"),
    )


@settings(max_examples=40, deadline=None)
@given(st.recursive(_leaf, _tree, max_leaves=8))
def test_compiled_expressions_agree_with_sympy(text):
    ns = Namespace(["x", "t"], ["u"], {"nu": 0.3, "k": 2.0})
    expr = parse(text, ns, PATH, VALUE)
    pts = np.array([[-0.7, 0.2], [0.4, 1.3], [1.1, -0.5]])
    got = compile_expr(expr, ns, PATH)(Columns(torch.as_tensor(pts), ns.inputs)).numpy()
    fn = sp.lambdify([ns.symbols["x"], ns.symbols["t"]], expr.subs({ns.symbols["nu"]: 0.3, ns.symbols["k"]: 2.0}),
                     modules=["scipy", "numpy"])
    want = np.broadcast_to(np.asarray(fn(pts[:, 0], pts[:, 1]), dtype=float), (3,))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("text, allow, fragment", [
    ("u_t + u*u_x - nuu*u_xx", EQUATION, "unknown symbol 'nuu' (did you mean 'nu'?)"),
    ("u_y", EQUATION, "unknown symbol 'u_y' (did you mean 'u_"),
    ("sinn(x)", EQUATION, "unknown function 'sinn' (did you mean 'sin'?)"),
    ("max(u, 0)", EQUATION, "unknown function 'max' (did you mean 'Max'?)"),
    ("u(x)", EQUATION, "'u' is a field, not a function"),
    ("sin", EQUATION, "function 'sin' used without arguments"),
    ("sin(x, t)", EQUATION, "'sin' takes 1 argument, got 2"),
    ("Max(u)", EQUATION, "'Max' takes 2 or more arguments, got 1"),
    ("diff(u, nu)", EQUATION, "cannot differentiate by 'nu'"),
    ("diff(u, y)", EQUATION, "cannot differentiate by 'y'"),
    ("diff(u)", EQUATION, "diff needs an expression and at least one input"),
    ("diff(sign(u), x)", EQUATION, "not differentiable: the derivative gives DiracDelta"),
    ("diff(Heaviside(x - 0.5), x)*u", EQUATION, "not differentiable"),
    ("u/0", EQUATION, "not finite"),
    ("u_t +", EQUATION, "cannot parse: invalid syntax"),
    ("x.__class__", EQUATION, "'x.__class__' is not allowed"),
    ("__import__('os').system('true')", EQUATION, "not allowed"),
    ("(lambda: 1)()", EQUATION, "not allowed"),
    ("u[0]", EQUATION, "'u[0]' is not allowed"),
    ("'u'", EQUATION, "not allowed"),
    ("u if x else 1", EQUATION, "not allowed"),
    ("x < t", EQUATION, "not allowed"),
    ("sin(x=1)", EQUATION, "keyword or starred arguments"),
    ("u + x", VALUE, "'u' is a field, not allowed here; use inputs x, t; parameters nu, k"),
    ("u_x", TRANSFORM, "'u_x' is a derivative, not allowed here"),
    ("diff(u, x)", TRANSFORM, "derivatives (diff) are not allowed here"),
    ("x + 1", CONSTANT, "'x' is an input, not allowed here; use parameters nu, k"),
])
def test_errors_name_the_path_the_expression_and_the_symbol(ns, text, allow, fragment):
    with pytest.raises(ConfigError) as err:
        parse(text, ns, PATH, allow)
    msg = str(err.value)
    assert err.value.path == PATH and msg.startswith(f"{PATH}: in '")
    assert fragment in msg and "\n" not in msg


@pytest.mark.parametrize("params, text, fragment", [
    ({"c": 1e308}, "u_tt - c**2*u_xx", "in 'u_tt - c**2*u_xx': 'c ** 2' overflows"),
    ({"c": 1e200}, "u_tt - exp(c)*u_xx", "in 'u_tt - exp(c)*u_xx': 'exp(c)' is not a finite number for the given"),
    ({"c": 0.0}, "u_t - u_xx/c", "in 'u_t - u_xx/c': division by zero for the given parameters"),
    ({"c": -1.0}, "u_t - sqrt(c)*u_xx", "is not a finite number"),
])
def test_constants_that_are_not_numbers_are_errors(params, text, fragment):
    ns = Namespace(["x", "t"], ["u"], params)
    with pytest.raises(ConfigError) as err:
        compile_expr(parse(text, ns, PATH), ns, PATH, text)
    assert err.value.path == PATH and fragment in str(err.value)


def test_equation_with_two_equals_is_an_error(ns):
    with pytest.raises(ConfigError, match="more than one '='"):
        parse("u = v = x", ns, PATH, equation=True)


@pytest.mark.parametrize("inputs, fields, params, path, fragment", [
    (["x", "t"], ["u_1"], {}, "problem.fields[0]", "contains '_'"),
    (["x", "t"], ["u"], {"E": 1.0}, "problem.parameters.E", "'E' is reserved"),
    (["x", "lambda"], ["u"], {}, "problem.inputs.lambda", "not a valid name"),
    (["x", "t"], ["x"], {}, "problem.fields[0]", "'x' is already declared as an input"),
    (["x", "t"], ["u"], {"u_x": 1.0}, "problem.parameters.u_x", "reads as a field's derivative"),
    (["x", "sin"], ["u"], {}, "problem.inputs.sin", "reserved"),
])
def test_bad_declared_names(inputs, fields, params, path, fragment):
    with pytest.raises(ConfigError) as err:
        Namespace(inputs, fields, params)
    assert err.value.path == path and fragment in str(err.value)


def test_multi_letter_names_parse_longest_first():
    ns = Namespace(["S", "tau"], ["V"], {"sigma": 0.2})
    assert ns.derivative("V_tauS") == ("V", ("tau", "S"))
    assert ns.derivative("V_SS") == ("V", ("S", "S"))
    assert ns.kind("sigma") == "parameter" and ns.kind("V") == "field" and ns.kind("Vx") is None


# --- a function input at a fixed point (f(0)) and per-point-set sub-expressions ------------------------------
@pytest.fixture(scope="module")
def ns_f():
    return Namespace(["x", "y"], ["u"], {"L": 2.0}, functions={"f": "x"})


def test_function_at_a_point_is_one_value_per_function(ns_f):
    expr = parse("u*x + (1 + f(L/2)/10)*y", ns_f, PATH, TRANSFORM)
    c = compile_expr(expr, ns_f, PATH)
    x = torch.tensor([[0.5, 2.0], [0.25, 4.0]], dtype=torch.float64)
    y = torch.tensor([[[3.0], [1.0]], [[0.0], [2.0]]], dtype=torch.float64)  # 2 functions × 2 points
    asked = []

    def at(name, where):
        asked.append((name, where))
        return torch.tensor([[10.0], [-10.0]], dtype=torch.float64)  # f(1) of each function

    out = c(Columns(x, ns_f.inputs, y[..., 0:1], ns_f.fields, at))
    assert asked and set(asked) == {("f", 1.0)}
    assert out.tolist() == [[3 * 0.5 + 2 * 2.0, 1 * 0.25 + 2 * 4.0], [0.0 + 0.0, 2 * 0.25 + 0.0]]
    lift = parse("(1 + f(L/2)/10)*y", ns_f, PATH, TRANSFORM)  # f(1) is constant in the inputs
    assert sp.diff(lift, ns_f.symbols["y"]) == 1 + ns_f.at_point("f", 1.0) / 10
    assert sp.diff(lift, ns_f.symbols["x"]) == 0


@pytest.mark.parametrize("text, allow, fragment", [
    ("f(0) + u_x", EQUATION, "allowed only in an output_transform"),
    ("u*f(x)", TRANSFORM, "must be a finite number"),
    ("u*f(0, 1)", TRANSFORM, "takes 1 argument"),
    ("u*g(0)", TRANSFORM, "unknown function 'g'"),
])
def test_function_at_a_point_errors(ns_f, text, allow, fragment):
    with pytest.raises(ConfigError) as exc:
        parse(text, ns_f, PATH, allow)
    assert fragment in str(exc.value) and PATH in str(exc.value)


def test_a_function_at_a_point_needs_a_function_batch(ns_f):
    c = compile_expr(parse("u + f(0)", ns_f, PATH, TRANSFORM), ns_f, PATH)
    x, y = torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 1, dtype=torch.float64)
    with pytest.raises(Exception, match=r"needs a function batch"):
        c(Columns(x, ns_f.inputs, y, ns_f.fields))


def test_input_only_sub_expressions_follow_their_points(ns):
    """Kept per point set (jets, evaluation), they must still follow new points and points changed in place."""
    c = compile_expr(parse("u*x + sin(x)*exp(t)", ns, PATH, TRANSFORM), ns, PATH)
    x = torch.rand(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    y = torch.rand(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))

    def truth(x, y):
        return y[:, 0] * x[:, 0] + torch.sin(x[:, 0]) * torch.exp(x[:, 1])

    assert torch.equal(c(Columns(x, ns.inputs, y, ns.fields)), truth(x, y))
    assert torch.equal(c(Columns(x.detach(), ns.inputs, 2 * y, ns.fields)), truth(x, 2 * y))  # same points
    x.add_(0.5)  # the same tensor, changed in place
    assert torch.equal(c(Columns(x, ns.inputs, y, ns.fields)), truth(x, y))
    z = torch.rand(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    assert torch.equal(c(Columns(z, ns.inputs, y[:1].expand(7, 2), ns.fields)), truth(z, y[:1].expand(7, 2)))
    g = x.clone().requires_grad_(True)  # points with gradients: recomputed, and differentiable
    c(Columns(g, ns.inputs, y, ns.fields)).sum().backward()
    assert torch.allclose(g.grad[:, 1], torch.sin(x[:, 0]) * torch.exp(x[:, 1]))

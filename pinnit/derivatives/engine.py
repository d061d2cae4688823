"""The loss engine of a PINN run: how every term's residual derivatives are computed (``training.derivatives``).

- ``autograd``: :class:`~pinnit.derivatives.fields.Fields`, nested reverse mode (one backward per derivative order);
- ``jets``: :class:`~pinnit.derivatives.jet_fields.JetFields`, forward jets through the MLP (eager);
- ``compiled``: the same jets with the whole loss (all terms: jets, residuals, mean of squares) under
  ``torch.compile(dynamic=False)``, so forward and backward are fused kernels (the jets need only a
  first-order backward, which AOTAutograd compiles); an Adam stage then runs each iteration — loss, gradient
  and update — as one compiled graph (pinnit/training/fused_adam.py). Under an output transform (hard
  constraints) written as expressions — Burgers, Black–Scholes (``boundary: asymptotic``), declared problems —
  the transformed fields' derivatives are the transform's symbolic chain rule evaluated on the raw jets
  (:meth:`TransformedNet.transform_derivative`, element-wise, no autograd), so that loss compiles too. Where the
  jets do not apply (a transform in Python only, whose jets need nested autograd; no closed-form activation
  derivatives; not an MLP) it falls back to ``compiled_autograd``;
- ``compiled_autograd``: the nested-autograd loss under ``torch.compile``; it needs the private dynamo flag
  ``trace_autograd_ops`` (applied only when present, through pinnit/runtime/torch_private.py, guarded like every compile);
- ``auto``: ``compiled`` for runs of ≥ ``AUTO_MIN_STEPS`` steps (compiling costs seconds), on any number of torch
  threads; else ``autograd``. On an idle 2-core machine (configs/burgers.yaml, 8000 points, commit 32bcef9) compiled
  on 2 threads took 5.9 ms per Adam step and 18.3 ms per SSBroyden iteration, against 7.1 / 23.4 on 1 thread and
  9.7 / 23.8 for autograd on 2 threads (width 64: 26.0 / 230, 36.8 / 324, 41.0 / 255). The compiled kernels
  follow a thread count lowered later (:class:`~pinnit.runtime.threads.ThreadGovernor`, when a neighbour starts):
  torch recompiles them once for the new count.

The first call is a discovery pass with autograd that records the derivative keys each residual asks
for; it also gives the reference losses the chosen engine's first losses must match (relative 1e-8 in
float64, 1e-3 in float32) before it is trusted. Whatever does not apply — a model that is not an MLP
(or a :class:`TransformedNet` around one, as :class:`~pinnit.training.loss.PinnModel`), an activation without closed-form
derivatives (for the compiled jets), a derivative above order 2, a compile error, a mismatch — falls back
to autograd once, with one line on stderr; training never stops for it. The losses returned on the
first call come from the chosen engine, so a resumed run continues with the same numerics.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .fields import Fields
from .jet_fields import Chain, JetFields, Key, RecordingFields, Transform, second_order_streams, transform_chain
from .jets import has_closed_form, mlp_jets
from ..nn.mlp import MLP
from ..runtime.torch_private import has_trace_autograd_ops, trace_autograd_ops

ENGINES = ("auto", "autograd", "jets", "compiled", "compiled_autograd")
#: ``auto`` compiles only runs at least this long (adam + L-BFGS iterations): compiling takes seconds.
AUTO_MIN_STEPS = 1000

Losses = dict[str, torch.Tensor]


def resolve_engine(name: str, steps: int) -> str:
    """The engine ``auto`` stands for in a run of ``steps`` optimizer steps; other names unchanged."""
    if name != "auto":
        return name
    if steps < AUTO_MIN_STEPS:
        return "autograd"
    return "compiled"  # falls back to compiled_autograd (e.g. a Python-only transform), then autograd, where it must


def error_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters of it), for one-line fallback notes."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"


def tolerance(dtype: torch.dtype) -> float:
    """How closely another engine must reproduce autograd (relative): 1e-8 in float64, 1e-3 in float32."""
    return 1e-8 if dtype == torch.float64 else 1e-3


def loss_mismatch(reference: Losses, got: Mapping[str, torch.Tensor]) -> str | None:
    """Why the per-term losses ``got`` are not autograd's ``reference`` (within :func:`tolerance`), or None."""
    for k, v in reference.items():
        a, b = float(v.detach()), float(got[k].detach())
        if not abs(a - b) <= tolerance(v.dtype) * max(abs(a), 1e-30) + 1e-30:
            return f"term '{k}': loss {b:.6g} differs from autograd's {a:.6g}"
    return None


class TransformedNet(nn.Module):
    """y = g(x, N(x)): a network N, then an output transform g (hard constraints; ``transform`` None: y = N(x)).
    A PINN model is one (:class:`~pinnit.training.loss.PinnModel`); the jets engines differentiate N by forward
    jets when N is an :class:`~pinnit.nn.mlp.MLP`, and g by the chain rule (:mod:`.jet_fields`): symbolically
    where :meth:`transform_derivative` gives g's derivatives, else by nested autograd."""

    transform: Transform | None = None

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        g = self.transform
        return y if g is None else g(x, y)

    def transform_derivative(self, field: str, wrt: tuple[str, ...]):
        """∂^wrt g of ``field`` as a function of the raw jets' environment (``coord``, ``value``, ``d``), or None
        where g has no symbolic derivatives. By default those of the object ``transform`` is a method of (a
        problem's ``output_transform``: :meth:`~pinnit.problems.base.Problem.transform_derivative`)."""
        owner = getattr(self.transform, "__self__", None)
        derivative = getattr(owner, "transform_derivative", None)
        return None if derivative is None else derivative(field, wrt)


def split_model(model: nn.Module) -> tuple[MLP, Transform | None] | None:
    """(MLP, output transform or None) of a plain MLP or a :class:`TransformedNet` around one; None otherwise."""
    if isinstance(model, MLP):
        return model, None
    if isinstance(model, TransformedNet) and isinstance(model.net, MLP):
        return model.net, model.transform
    return None


def _mean_squares(r) -> torch.Tensor:
    parts = r if isinstance(r, (tuple, list)) else (r,)
    return sum(torch.mean(p**2) for p in parts)


class LossEngine:
    """Per-term losses ``{name: mean(residual²)}`` of ``terms`` at given points by the configured engine."""

    def __init__(self, problem, terms: Sequence, model: nn.Module, engine: str = "autograd",
                 note: Callable[[str], None] | None = None):
        self.problem, self.terms, self.model = problem, list(terms), model
        self.requested = engine
        self.active: str | None = None  # set by the first call
        self.keys: dict[str, frozenset[Key]] = {}
        self._fn: Callable[[Mapping[str, torch.Tensor]], Losses] | None = None
        self._plan: tuple[str, str | None] | None = None  # (engine, why the requested one does not apply)
        self._note = note or (lambda msg: print(msg, file=sys.stderr))
        self.notes: list[str] = []
        self._resumed: str | None = None  # the engine a resumed run continues on (load_state), not re-chosen

    # --- engines ------------------------------------------------------------------------------------
    def _autograd(self, points: Mapping[str, torch.Tensor]) -> Losses:
        p = self.problem
        return {t.name: _mean_squares(t.residual(Fields(points[t.name], p.inputs, p.outputs, self.model)))
                for t in self.terms}

    def _chain(self) -> Chain | None:
        """The output transform's compiled derivatives for the discovered keys (:func:`transform_chain`), or None."""
        model = self.model
        if not isinstance(model, TransformedNet) or model.transform is None:
            return None
        p = self.problem
        return transform_chain(model.transform_derivative, p.inputs, p.outputs,
                               (k for ks in self.keys.values() for k in ks))

    def _jets_fn(self, net: MLP, transform: Transform | None, compiled: bool
                 ) -> Callable[[Mapping[str, torch.Tensor]], Losses]:
        p, keys = self.problem, self.keys
        chain = self._chain() if transform is not None else None
        nested = transform is not None and chain is None  # the Taylor route: nested autograd of the transform
        jets = torch.compile(mlp_jets, dynamic=False) if compiled and nested else mlp_jets

        def losses(points):
            return {t.name: _mean_squares(t.residual(JetFields(points[t.name], p.inputs, p.outputs, net, transform,
                                                               keys[t.name], jets, chain)))
                    for t in self.terms}
        # with a transform differentiated by nested autograd only the jets are compiled (no double backward)
        return torch.compile(losses, dynamic=False) if compiled and not nested else losses

    def _compiled_autograd_fn(self):
        compiled = torch.compile(self._autograd, dynamic=False)

        def losses(points):
            points = {k: v if v.requires_grad else v.detach().requires_grad_(True) for k, v in points.items()}
            with trace_autograd_ops():
                return compiled(points)
        return losses

    # --- checkpoints ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """For the checkpoint: the engine asked for (``resolved``), the one in use after any fallback
        (``active``; None before the first call) and the fallback notes so far."""
        return {"resolved": self.requested, "active": self.active, "notes": list(self.notes)}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Continue on the engine a checkpoint was using, without planning again: a run that fell back to
        autograd stays on autograd; one on jets or a compiled engine rebuilds exactly that one (its losses are
        still checked against autograd's on the first call). A no-op once this engine has been called."""
        if self.active is not None or self._plan is not None:
            return
        self.notes = [str(n) for n in state.get("notes") or ()]
        active = state.get("active")
        if active == "autograd":
            self.active, self._plan = "autograd", ("autograd", None)
        elif active in ENGINES and active != "auto":
            self._resumed = active

    # --- selection ------------------------------------------------------------------------------------
    def note(self, msg: str) -> None:
        """Say ``msg`` once (stderr by default) and keep it in ``notes``."""
        self.notes.append(msg)
        self._note(msg)

    def _fallback(self, why: str, to: str = "autograd") -> None:
        self.note(f"training.derivatives: {self.requested} → {to} ({why})")
        self.active, self._fn = to, None

    def _discover(self, points: Mapping[str, torch.Tensor]) -> Losses:
        p, out = self.problem, {}
        for t in self.terms:
            rec = RecordingFields(points[t.name], p.inputs, p.outputs, self.model)
            out[t.name] = _mean_squares(t.residual(rec))
            self.keys[t.name] = frozenset(rec.record)
        return out

    def _choice(self) -> tuple[str, str | None]:
        """(engine to build, why the requested one does not apply, or None) once the keys are discovered.
        ``compiled`` falls back to ``compiled_autograd`` where torch has the flag, everything else to autograd."""
        want = self.requested
        if self._resumed is not None:
            return self._resumed, None
        if want in ("autograd", "compiled_autograd"):
            if want == "compiled_autograd" and not has_trace_autograd_ops():
                return "autograd", "this torch has no dynamo trace_autograd_ops"
            return want, None
        why = self._jets_obstacle(want)
        if why is None:
            return want, None
        return ("compiled_autograd" if want == "compiled" and has_trace_autograd_ops() else "autograd"), why

    def _jets_obstacle(self, want: str) -> str | None:
        parts = split_model(self.model)
        if parts is None:
            return f"the model ({type(self.model).__name__}) is not an MLP"
        _, _, order = second_order_streams(k for ks in self.keys.values() for k in ks)
        if order > 2:
            return f"a residual asks for a derivative of order {order}; jets stop at 2"
        acts = parts[0].activations
        if any(getattr(a, "family", None) == "normalizing" for a in acts):
            return "the activation is not element-wise"
        if want == "compiled" and parts[1] is not None and self._chain() is None:
            return ("hard constraints: the output transform has no symbolic derivatives (no transform expressions), "
                    "so its jets need nested autograd, which compiled graphs do not have")
        if want == "compiled" and not all(has_closed_form(a) for a in acts):
            return f"no closed-form derivatives for {type(acts[0]).__name__} (compiled jets)"
        return None

    def plan(self, points: Mapping[str, torch.Tensor]) -> str:
        """The engine the first call builds (a discovery pass at ``points`` on the first call of ``plan``)."""
        if self._plan is None:
            with torch.enable_grad():
                self._discover(points)
            self._plan = self._choice()
        return self._plan[0]

    def jets_losses(self) -> Callable[[Mapping[str, torch.Tensor]], Losses]:
        """The eager jets loss (per-term mean squares), for a caller that compiles a larger graph around it
        (pinnit/training/fused_adam.py); only after :meth:`plan` chose ``jets`` or ``compiled``."""
        return self._jets_fn(*split_model(self.model), compiled=False)

    def reference(self, points: Mapping[str, torch.Tensor]) -> Losses:
        """The per-term losses by nested autograd (the reference every other engine is checked against)."""
        with torch.enable_grad():
            return self._autograd(points)

    def _build(self, engine: str) -> None:
        if engine == "compiled_autograd":
            self._fn = self._compiled_autograd_fn()
        else:
            self._fn = self._jets_fn(*split_model(self.model), compiled=engine == "compiled")
        self.active = engine

    def _first(self, points: Mapping[str, torch.Tensor]) -> Losses:
        with torch.enable_grad():
            ref = self._discover(points)
        engine, why = self._plan if self._plan is not None else self._choice()
        self._plan = (engine, why)
        if why is not None:
            self._fallback(why, engine)
        if engine == "autograd":
            self.active = "autograd"
            return ref if torch.is_grad_enabled() else {k: v.detach() for k, v in ref.items()}
        try:
            self._build(engine)
            out = self._fn(points)
        except Exception as exc:  # noqa: BLE001 (a compile failure must not stop training)
            self._fallback(error_line(exc))
            return ref
        why = loss_mismatch(ref, out)
        if why is not None:
            self._fallback(why)
            return ref
        if torch.is_grad_enabled() and not self._backward_works(points):
            return ref
        return out

    def _backward_works(self, points: Mapping[str, torch.Tensor]) -> bool:
        """Probe the engine's backward once, on a separate evaluation and without touching ``.grad``: a compiled
        graph may build its forward and still refuse the backward, e.g. a periodic term's double backward
        through ``f.at``."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        try:
            total = sum(self._fn(points).values())
            if params and total.requires_grad:
                torch.autograd.grad(total, params, allow_unused=True)
        except Exception as exc:  # noqa: BLE001 (fall back rather than stop training)
            self._fallback(f"backward: {error_line(exc)}")
            return False
        return True

    def __call__(self, points: Mapping[str, torch.Tensor]) -> Losses:
        if self.active is None:
            return self._first(points)
        if self._fn is None:
            return self._autograd(points)
        try:
            return self._fn(points)
        except Exception as exc:  # noqa: BLE001 (e.g. a residual asking for an undiscovered derivative)
            self._fallback(f"{type(exc).__name__} after the first step: {str(exc).strip()[:200]}")
            return self._autograd(points)

"""Diagnose one configured network, or the same network under several initializers, and write the report.

For each initializer the run is assembled exactly as ``pinnit run`` would (:func:`pinnit.runs.pipeline.assemble`: same
problem, sampled points, seed, dtype and device), then :func:`~pinnit.diagnostics.stats.forward_statistics`
runs on the physics (PDE) collocation points (or uniform random points in the domain), the knot density is
counted for ReLU-like activations, and the gradient norms come from one backward pass of the real training
loss, Σ λ_term·mean(residual²), on a strided subset of every term's points (skipped above a depth threshold,
where the second derivatives of the residual make it slow). Outputs: ``diagnostics.json`` (meta, definitions,
one summary per initializer with the last-layer histogram), ``layers.csv`` (one row per layer per initializer)
and the PNG figures of :mod:`pinnit.diagnostics.plots`.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ..core.errors import ConfigError, PinnitError
from ..core.atomic_files import write_csv, write_json
from . import stats

#: Gradient norms are skipped above this many hidden layers unless asked for (the residual's second
#: derivatives through 10⁴ layers cost minutes on a CPU).
GRAD_MAX_DEPTH = 1000
DEFINITIONS = {
    "mean/std/min/max": "of the post-activations x^l over all (unit, sample) pairs",
    "sample_std": "mean over units of the std over samples (input dependence; ~0 for a collapsed layer)",
    "output_sample_std": "mean over outputs of the network output's std over samples (~0: ignores the input)",
    "pre_rms": "sqrt(mean(h^l)^2) of the pre-activations, ~sqrt(q^l) of the mean-field length map",
    "saturated": "fraction of pairs with |phi'(h)| < 0.01*s, s = |phi'(0)| (|phi'(1)| if phi'(0) = 0); "
                 "tanh: |h| > 2.99; ReLU-likes: the inactive side",
    "dead_units": "fraction of units saturated on every sample",
    "neg_gain": "fraction of pairs with h_i^l * x_j^{l-1} < 0, j = i mod N_{l-1} (Lee 2026, Lemma 1: gain < 0)",
    "neg_gain_pred": "Lemma 1 expectation given x^{l-1}: mean Phi(-d|x_j|sqrt(N)/(sigma_z|x|)), d and sigma_z "
                     "read from W as D + Z",
    "sign_flip": "fraction of pairs where sign(h_i^l) differs from the input coordinate on its diagonal path",
    "chi1": "mean over samples of the per-unit mean-square growth |dh^l|^2/N_l / (|dh^{l-1}|^2/N_{l-1}) of an "
            "infinitesimal random input perturbation (exact forward-mode tangent)",
    "chi1_mf": "sigma_w_hat^2 * mean(phi'(h^l)^2), sigma_w_hat^2 = N_{l-1} mean(W^l^2) (mean-field formula)",
    "knots": "ReLU-like nets: mean number of sign changes of the layer's pre-activations along random chords "
             "of the input domain (kinks inside the domain, KGI preprint)",
    "grad_norm": "Frobenius norm of dL/dW^l for the run's training loss at initialization (one backward pass)",
}


@dataclass
class Diagnosis:
    """One initializer's diagnosis: per-layer rows (hidden layers, then the output layer), a summary and the
    last hidden layer's post-activations (flattened, for the histogram)."""

    label: str
    spec: Any
    rows: list[dict]
    summary: dict
    last: np.ndarray
    default_out: Path | None = None  #: ``<output.dir>/<run-name>/diagnose`` of the config


def parse_spec(text: str) -> Any:
    """A ``--compare`` entry: an initializer name or a YAML mapping such as ``{name: eoc, sigma_b: 0.1}``."""
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError:
        raise PinnitError(f"--compare {text!r}: not a name or a YAML mapping like '{{name: eoc, sigma_b: 0.1}}'") from None
    if not (isinstance(spec, str) or (isinstance(spec, dict) and "name" in spec)):
        raise PinnitError(f"--compare {text!r}: expected a name or a mapping with 'name'")
    return spec


def label_of(spec: Any) -> str:
    """``eoc`` or ``eoc(sigma_b=0.1)``."""
    if isinstance(spec, str):
        return spec
    params = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
    return f"{spec['name']}({params})" if params else str(spec["name"])


def _points(a, samples: int, random: int | None) -> tuple[torch.Tensor, str]:
    """The inputs to push through: uniform random in the domain, or a strided subset of the physics points."""
    if random:
        box = a.problem.domain
        lo = torch.tensor([box[k][0] for k in a.problem.inputs], dtype=torch.float64)
        hi = torch.tensor([box[k][1] for k in a.problem.inputs], dtype=torch.float64)
        g = torch.Generator().manual_seed(a.ctx.seed)
        x = lo + (hi - lo) * torch.rand(random, len(lo), generator=g, dtype=torch.float64)
        return x.to(device=a.ctx.device, dtype=a.ctx.dtype), "random"
    terms = a.loss.terms
    term = next((t for t in terms if t.kind == "physics"), terms[0])
    return _subset(a.loss.points[term.name], samples), term.name


def _subset(x: torch.Tensor, k: int) -> torch.Tensor:
    if x.shape[0] <= k:
        return x
    return x[torch.linspace(0, x.shape[0] - 1, k).round().long().to(x.device)]


def _assemble(cfg):
    from ..runs.pipeline import assemble

    try:
        return assemble(cfg)
    except ValueError as exc:  # e.g. an initializer's closed form outside its range at this depth
        raise ConfigError("network.initializer", f"{label_of(cfg.network.initializer)}: {exc}") from None


def diagnose(cfg, *, samples: int = 2048, random: int | None = None, grad_max_depth: int = GRAD_MAX_DEPTH,
             knot_lines: int = 32, knot_points: int = 1000) -> Diagnosis:
    """Diagnose the network of ``cfg`` (a :class:`~pinnit.config.RunConfig`) at initialization."""
    if cfg.network.arch != "mlp":
        raise ConfigError("network.arch", f"diagnose studies MLPs; '{cfg.network.arch}' is not supported yet")
    spec = cfg.network.initializer
    label = label_of(spec)
    t0 = time.perf_counter()
    a = _assemble(cfg)
    net = a.model.net
    build_s = time.perf_counter() - t0
    x, source = _points(a, samples, random)
    t0 = time.perf_counter()
    fwd = stats.forward_statistics(net, x, torch.Generator().manual_seed(a.ctx.seed + 1))
    forward_s = time.perf_counter() - t0
    depth = len(fwd.rows)
    family = getattr(net.activation, "family", "smooth")
    knots = None
    if family == "relu_like":
        box = a.problem.domain
        knots = stats.knots_along_lines(net, knot_lines, knot_points, a.ctx.seed,
                                        [box[k][0] for k in a.problem.inputs], [box[k][1] for k in a.problem.inputs])
    grads, note, loss_value, grad_s = None, None, None, None
    if depth <= grad_max_depth:
        a.loss.points = {k: _subset(v, samples) for k, v in a.loss.points.items()}
        t0 = time.perf_counter()
        value: list[float] = []

        def loss_fn():
            total = a.loss.total(a.loss.term_losses())
            value.append(float(total.detach()))
            return total

        grads = stats.gradient_norms(net, loss_fn)
        grad_s, loss_value = time.perf_counter() - t0, value[0]
    else:
        note = f"gradient norms skipped: depth {depth} > --grad-max-depth {grad_max_depth}"
    out = fwd.output
    rows = [{"initializer": label, "kind": "hidden", **r} for r in fwd.rows]
    rows.append({"initializer": label, "kind": "output", "layer": depth + 1, "width": int(out.shape[1]),
                 "mean": float(out.mean()), "std": float(out.std()), "min": float(out.min()), "max": float(out.max())})
    for i, r in enumerate(rows):
        r["knots"] = knots[i] if knots is not None and i < depth else None
        r["grad_norm"] = grads[i] if grads is not None else None
        r.update({k: float(f"{v:.7g}") for k, v in r.items() if isinstance(v, float)})  # compact CSV
    last = fwd.last.double().cpu().numpy().ravel()
    summary = _summary(label, spec, cfg, net, fwd, knots, grads, note, loss_value, last)
    summary["points"] = {"source": source, "count": int(x.shape[0])}
    summary["time_s"] = {"build": round(build_s, 3), "forward_stats": round(forward_s, 3),
                         "gradients": None if grad_s is None else round(grad_s, 3)}
    return Diagnosis(label, spec, rows, summary, last, Path(cfg.output.dir) / cfg.run_name / "diagnose")


def _summary(label, spec, cfg, net, fwd, knots, grads, note, loss_value, last) -> dict:
    rows = fwd.rows
    depth = len(rows)
    tail = rows[1:] or rows  # layer 1 reflects the input dimension, not the recursion
    chi = [r["chi1"] for r in rows]
    d_bar, sigma = _pooled_split(net)
    surrogate = float(0.5 * math.erfc(d_bar / sigma / math.sqrt(2))) if sigma and math.isfinite(sigma) else None
    counts, edges = np.histogram(last[np.isfinite(last)], bins=50) if last.size else (np.array([]), np.array([]))
    last_row = rows[-1] if rows else {}
    return {
        "initializer": label, "spec": spec, "activation": cfg.network.activation, "depth": depth,
        "width": _compact([r["width"] for r in rows]), "parameters": sum(p.numel() for p in net.parameters()),
        "last_layer": {k: last_row.get(k) for k in ("mean", "std", "sample_std", "min", "max", "saturated")},
        "output_std": float(fwd.output.std()) if fwd.output.numel() > 1 else 0.0,
        "output_sample_std": float(fwd.output.std(dim=0).mean()) if fwd.output.shape[0] > 1 else 0.0,
        "chi1_mean": _mean([r["chi1"] for r in tail]),
        "chi1_mf_mean": _mean([r["chi1_mf"] for r in tail]),
        "log10_perturbation_gain": float(sum(0.5 * math.log10(c) for c in chi)) if chi and min(chi) > 0 else None,
        "neg_gain_mean": _mean([r["neg_gain"] for r in tail]),
        "neg_gain_pred_mean": _mean([r["neg_gain_pred"] for r in tail]),
        "diagonal": {"d": d_bar, "sigma_z": sigma, "surrogate_neg_gain": surrogate,
                     "surrogate_sign_flip": None if surrogate is None else (1 - (1 - 2 * surrogate) ** depth) / 2},
        "sign_flip_last": last_row.get("sign_flip"),
        "knots_per_chord": None if knots is None else float(sum(knots)),
        "knots_per_unit": None if knots is None else float(sum(knots)) / max(1, sum(r["width"] for r in rows)),
        "gradients": {"computed": grads is not None, "note": note, "loss": loss_value,
                      "max": max(grads) if grads else None, "min": min(grads) if grads else None},
        "last_layer_histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _compact(widths: list[int]) -> int | list[int] | None:
    """One number for a constant-width net, else the list."""
    return widths[0] if widths and len(set(widths)) == 1 else (widths or None)


def _mean(values: list) -> float | None:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.mean(v)) if v else None


def _pooled_split(net) -> tuple[float, float]:
    """(d̄, σ̂_z) pooled over the hidden-to-hidden layers (the first and output layers when there are none)."""
    layers = list(net.layers)
    inner = layers[1:-1] or layers
    parts = [stats.diagonal_split(layer.weight.detach().double().cpu()) for layer in inner]
    sig = [s for _, s in parts if math.isfinite(s)]
    sigma = float(np.sqrt(np.mean(np.square(sig)))) if sig else math.nan
    return float(np.mean([d for d, _ in parts])), sigma


def compare(config: str | Path, overrides: list[str], specs: list[Any] | None, **kwargs) -> list[Diagnosis]:
    """Diagnose the config once per initializer spec (``None``: just the configured one)."""
    from ..runs import load_config

    results, seen = [], {}
    for spec in specs or [None]:
        extra = [] if spec is None else [f"network.initializer={json.dumps(spec)}"]  # JSON is YAML flow syntax
        try:
            cfg = load_config(config, [*overrides, *extra])
            d = diagnose(cfg, **kwargs)
        except ConfigError as exc:  # a bad --compare entry is named as such, not as the config key it fills
            if spec is None or not exc.path.startswith("network.initializer"):
                raise
            key = exc.path[len("network.initializer"):].lstrip(".")
            raise ConfigError("--compare", f"{label_of(spec)}: {'' if key in ('', 'name') else key + ': '}"
                                           f"{exc.message}") from None
        except ValueError as exc:  # an initializer's closed form out of range (pydantic errors are converted)
            if spec is None:
                raise ConfigError("network.initializer", str(exc)) from None
            raise ConfigError("--compare", f"{label_of(spec)}: {exc}") from None
        seen[d.label] = seen.get(d.label, 0) + 1
        if seen[d.label] > 1:
            d.label = f"{d.label}#{seen[d.label]}"
            d.summary["initializer"] = d.label
            for r in d.rows:
                r["initializer"] = d.label
        results.append(d)
    return results


def _finite(node: Any) -> Any:
    """NaN/inf → None, so that diagnostics.json stays strict JSON (an exploding net has inf statistics)."""
    if isinstance(node, float):
        return node if math.isfinite(node) else None
    if isinstance(node, dict):
        return {k: _finite(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_finite(v) for v in node]
    return node


def write_report(results: list[Diagnosis], out: str | Path, meta: dict, plots: bool = True,
                 caption: str | None = None) -> list[Path]:
    """Write ``diagnostics.json``, ``layers.csv`` and (optionally) the figures into ``out``, each figure headed
    by ``caption`` (what was diagnosed, e.g. a study's cell) when given."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PinnitError(f"{out}: cannot create output directory ({exc.strerror})") from None
    write_json(out / "diagnostics.json", _finite({**meta, "definitions": DEFINITIONS,
                                                  "initializers": [d.summary for d in results]}))
    write_csv(out / "layers.csv", [r for d in results for r in d.rows])
    paths = [out / "diagnostics.json", out / "layers.csv"]
    if plots:
        from .plots import plot_all

        paths += plot_all(results, out, caption)
    return paths

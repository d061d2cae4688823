"""Initialization diagnostics (pinnit.diagnostics, `pinnit diagnose`): the numbers are measured physics.

Thresholds were set from measurements (recorded in each test) with wide margins.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from scipy.special import ndtr

from pinnit.cli import main
from pinnit.runs import load_config
from pinnit.diagnostics import forward_statistics, gradient_norms
from pinnit.diagnostics.report import diagnose, label_of, parse_spec
from pinnit.core.errors import PinnitError
from pinnit.nn.activations import build_activation
from pinnit.nn.initializers import initialize, proposed_sigma_z
from pinnit.nn.mlp import MLP

REPO = Path(__file__).resolve().parents[1]
BURGERS = REPO / "configs" / "burgers.yaml"


@pytest.fixture(autouse=True)
def one_thread():
    """The per-layer tensors are tiny: one thread is several times faster on the shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _net(act, widths, spec, seed=0, d=2):
    activation = build_activation(act)
    net = MLP(d, 1, list(widths), activation)
    initialize(net.layers, activation, torch.Generator().manual_seed(seed), spec)
    return net


def _inputs(n=1024, d=2, seed=0):
    """Uniform points in [−1, 1]^d, the normalised domain every pinnit MLP sees."""
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize("seed", [0, 1])
def test_depth_500_proposed_keeps_the_signal_while_eoc_collapses(seed):
    """Lee 2026, Figs. 9–10: at huge depth and small width the proposed D + Z init keeps a spread last-layer
    histogram while EOC's collapses. Measured (tanh, width 16, 500 hidden layers, 1024 points, seeds 0–3):
    proposed σ_z = 0.0853 last std 0.064–0.071 (sample std 0.059–0.065); EOC σ_b = 0: 1.1e−8 – 1.2e−7;
    EOC σ_b = 0.1: std 0.26–0.52 across units but sample std ≤ 7e−8 (an input-independent constant)."""
    x = _inputs()
    sigma_z = proposed_sigma_z(1.0, 501)  # 501 Linear layers; ≈ 0.0853
    stats = {name: forward_statistics(_net("tanh", [16] * 500, spec, seed), x).rows[-1]
             for name, spec in [("proposed", {"name": "proposed", "sigma_z": sigma_z}), ("eoc", "eoc"),
                                ("eoc_b", {"name": "eoc", "sigma_b": 0.1})]}
    assert stats["proposed"]["std"] > 1e-2 and stats["proposed"]["sample_std"] > 1e-2
    assert stats["eoc"]["std"] < 1e-5
    assert stats["eoc_b"]["std"] > 0.1 and stats["eoc_b"]["sample_std"] < 1e-5


def test_chi1_is_one_at_the_edge_of_chaos_on_a_wide_net():
    """Mean-field χ₁ = σ_w²E[φ'(√q* Z)²] = 1 on the EOC (Schoenholz et al. 2017). With σ_b = 0.3 (σ_w = 1.3956,
    q* = 0.763) the first layer already has q¹ = σ_w²/3 + σ_b² ≈ 0.74 for inputs uniform on [−1, 1]².
    Layers 1–2 are excluded: layer 1 maps the 2-D input (χ = σ_w²), and layer 2's tangent still lives in the
    input's 2-D span, correlated with h¹. Measured (width 512, depth 10): mean χ₁ over layers 3–10 = 1.007,
    mean-field estimate 1.01. At σ_b = 0 real inputs sit at q > q* = 0, so χ₁ < 1 (ordered side), rising as
    q^l → 0 (measured χ₁_mf 0.70 → 0.93)."""
    x = _inputs(256)
    rows = forward_statistics(_net("tanh", [512] * 10, {"name": "eoc", "sigma_b": 0.3}), x,
                              torch.Generator().manual_seed(1)).rows
    tail = rows[2:]
    assert sum(r["chi1"] for r in tail) / len(tail) == pytest.approx(1.0, abs=0.05)
    assert sum(r["chi1_mf"] for r in tail) / len(tail) == pytest.approx(1.0, abs=0.05)
    ordered = forward_statistics(_net("tanh", [512] * 10, "eoc"), x).rows
    mf = [r["chi1_mf"] for r in ordered]
    assert max(mf) < 1 and mf[-1] > mf[0] + 0.1


def test_negative_gain_rate_is_the_surrogate_when_inputs_have_equal_magnitudes():
    """Lee 2026, Lemma 1: each neuron's gain is a ≈ N(ω, σ_z²), per-layer negative rate p = Φ(−ω/σ_z).
    Exact when every |x_j| is equal (Lemma 1: Var a_i = σ_z²/N·‖x‖²/x_i² = σ_z²): a 512 → 512 D + Z layer fed
    random sign vectors. Measured 0.02248–0.02267 for seeds 0–3 vs Φ(−2) = 0.02275."""
    signs = torch.randint(0, 2, (1000, 512), generator=torch.Generator().manual_seed(3)).double() * 2 - 1
    row = forward_statistics(_net("tanh", [512], {"name": "proposed", "sigma_z": 0.5}, seed=3, d=512), signs).rows[0]
    assert row["neg_gain"] == pytest.approx(float(ndtr(-2.0)), rel=0.05)
    assert row["neg_gain_pred"] == pytest.approx(float(ndtr(-2.0)), rel=0.05)


@pytest.mark.parametrize("seed", [0, 1])
def test_negative_gain_rate_on_a_real_net_follows_lemma_1_not_the_surrogate(seed):
    """On a deep net with real inputs the |x_j| differ, so Lemma 1's conditional variance σ_z²/N·‖x‖²/x_i² is
    heavy-tailed and the rate is far above Φ(−ω/σ_z) (why Lee 2026 calibrates ρ(L) empirically, Fig. 5).
    Measured (tanh, width 64, depth 20, σ_z = 0.406, Φ(−1/σ_z) = 0.0068): empirical 0.087–0.094, Lemma-1
    prediction 0.090–0.094."""
    rows = forward_statistics(_net("tanh", [64] * 20, "proposed", seed), _inputs(), torch.Generator()).rows
    empirical = sum(r["neg_gain"] for r in rows) / len(rows)
    predicted = sum(r["neg_gain_pred"] for r in rows) / len(rows)
    surrogate = float(ndtr(-1.0 / proposed_sigma_z(1.0, 21)))
    assert empirical == pytest.approx(predicted, rel=0.1)
    assert empirical > 5 * surrogate


def test_kgi_raises_the_relu_knot_density_over_a_random_bias_baseline():
    """KGI preprint, Fig. 3: KGI ≈ 3× the in-domain knots of the pre-initialised ReLU net. Through `diagnose` on the
    Burgers config (8 × 20 ReLU). Baseline: Xavier normal with N(0, 1) biases (as tests/test_kgi.py), KGI
    pre-initialised by it. Measured over seeds 0–2: knots per chord 21.4–30.5 vs 5.5–11.2, ratio 3.13.
    Zero-bias Xavier is not a useful baseline in pinnit's normalised coordinates: a bias-free ReLU net is
    positively homogeneous, every kink passes through the domain centre, so chords cross *more* of them
    (measured 73–101 per chord; KGI with that pre-init moves them apart: 23–32, i.e. 0.33×)."""
    def knots(spec, seed):
        cfg = load_config(BURGERS, ["network.activation=relu", f"network.initializer={json.dumps(spec)}",
                                    f"training.seed={seed}", "sampling.points.pde=256"])
        return diagnose(cfg, samples=256, grad_max_depth=0).summary["knots_per_chord"]

    base = {"name": "xavier_normal", "bias_std": 1.0}
    ratio = sum(knots({"name": "kgi", "pre": base}, s) for s in range(3)) / sum(knots(base, s) for s in range(3))
    assert ratio >= 2
    zero_bias = sum(knots("xavier_normal", s) for s in range(3)) / sum(knots("kgi", s) for s in range(3))
    assert zero_bias > 1.5


def test_saturation_and_dead_unit_definitions():
    """tanh: |tanh'(h)| < 0.01 ⇔ |h| > 2.993; ReLU: φ' = 0 on the inactive side, a dead unit is inactive on all."""
    net = _net("tanh", [1], "xavier_normal", d=1)
    with torch.no_grad():
        net.layers[0].weight.fill_(1.0)
    x = torch.tensor([[0.0], [2.9], [3.1], [-3.1]], dtype=torch.float64)
    assert forward_statistics(net, x).rows[0]["saturated"] == pytest.approx(0.5)
    relu = _net("relu", [2], "xavier_normal", d=1)
    with torch.no_grad():
        relu.layers[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        relu.layers[0].bias.copy_(torch.tensor([0.0, -5.0]))
    row = forward_statistics(relu, torch.tensor([[-1.0], [0.5], [1.0]], dtype=torch.float64)).rows[0]
    assert row["saturated"] == pytest.approx(4 / 6) and row["dead_units"] == pytest.approx(0.5)


def test_gradient_norms_are_those_of_the_training_loss():
    cfg = load_config(BURGERS, ["network.depth=3", "network.width=8", "sampling.points.pde=128"])
    d = diagnose(cfg, samples=64)
    norms = [r["grad_norm"] for r in d.rows]
    assert len(norms) == 4 and all(n > 0 for n in norms)
    assert d.summary["gradients"]["loss"] > 0
    from pinnit.runs.pipeline import assemble

    a = assemble(cfg)
    a.loss.points = {k: v[torch.linspace(0, len(v) - 1, 64).round().long()] for k, v in a.loss.points.items()}
    expected = gradient_norms(a.model.net, lambda: a.loss.total(a.loss.term_losses()))
    assert norms == pytest.approx(expected, rel=1e-5)
    skipped = diagnose(cfg, samples=64, grad_max_depth=2)
    assert skipped.summary["gradients"]["computed"] is False and "skipped" in skipped.summary["gradients"]["note"]


def test_compare_specs_parse_and_label():
    assert parse_spec("proposed") == "proposed"
    assert parse_spec("{name: eoc, sigma_b: 0.1}") == {"name": "eoc", "sigma_b": 0.1}
    assert label_of({"name": "eoc", "sigma_b": 0.1}) == "eoc(sigma_b=0.1)"
    with pytest.raises(PinnitError):
        parse_spec("{sigma_b: 0.1}")


def test_cli_compares_three_initializers(tmp_path):
    out = tmp_path / "diag"
    proc = subprocess.run([sys.executable, "-m", "pinnit", "diagnose", str(BURGERS), "--compare", "proposed", "eoc",
                           "kgi", "--depth", "50", "--width", "16", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "diagnostics.json").read_text())
    assert [s["initializer"] for s in report["initializers"]] == ["proposed", "eoc", "kgi"]
    assert all(s["depth"] == 50 and s["width"] == 16 for s in report["initializers"])
    # one output (u): its sample std over the inputs (the histogram's title) is the std of the output column
    assert all(s["output_sample_std"] == pytest.approx(s["output_std"], rel=1e-6) for s in report["initializers"])
    rows = list(csv.DictReader((out / "layers.csv").open()))
    assert len(rows) == 3 * 51 and {r["initializer"] for r in rows} == {"proposed", "eoc", "kgi"}
    for name in ("activation_range.png", "last_layer_hist.png", "grad_norms.png", "chi1.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_random_points_and_user_errors(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["diagnose", str(BURGERS), "--depth", "3", "--random", "100", "--no-plots", "--out", str(out)]) == 0
    summary = json.loads((out / "diagnostics.json").read_text())["initializers"][0]
    assert summary["points"] == {"source": "random", "count": 100} and summary["initializer"] == "xavier_normal"
    assert not list(out.glob("*.png"))
    capsys.readouterr()
    assert main(["diagnose", str(BURGERS), "--compare", "xavier_nromal", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "did you mean 'xavier_normal'" in err
    assert err.startswith("pinnit: error: --compare: xavier_nromal: unknown initializer 'xavier_nromal'"), err
    assert main(["diagnose", str(BURGERS), "--compare", "proposed", "eco", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pinnit: error: --compare: eco: unknown initializer 'eco' (did you mean 'eoc'?)"), err
    assert main(["diagnose", str(BURGERS), "--compare", "{name: eoc, sigma_b: -1}", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pinnit: error: --compare: eoc(sigma_b=-1): sigma_b: ") and "network." not in err, err
    assert main(["diagnose", str(BURGERS), "--set", "network.activation=relu", "--compare", "proposed",
                 "--out", str(out)]) == 2

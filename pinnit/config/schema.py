"""Typed run configuration (pydantic). Unknown keys, wrong types and impossible values are rejected.

Registry-backed parts (problem parameters, activation, initializer) are validated against their entry's
signature in :mod:`pinnit.runs.validate`, after this schema has checked the structure.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, NonNegativeInt, PositiveFloat, NonNegativeFloat

from .defaults import CHUNK, RESTARTS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ProblemConfig(BaseModel):
    """``name`` picks the registered problem; every other key is one of its parameters."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    name: str = Field(description="a registered problem (pinnit list problems), or declared for a PDE written in YAML")
    hard_constraints: bool = Field(False, description="satisfy the conditions the problem's output transform builds in "
                                                      "exactly, and drop them from the loss")


class SubNetConfig(Strict):
    """One sub-network of a DeepONet (branch or trunk); unset keys inherit the network-level ones."""

    width: PositiveInt | None = Field(None, le=100_000, description="hidden width (default: network.width)")
    depth: NonNegativeInt | None = Field(None, le=100_000, description="hidden layers before the feature layer")
    widths: list[Annotated[int, Field(gt=0, le=100_000)]] | None = Field(
        None, max_length=100_000, description="explicit hidden widths (default: network.widths)")
    activation: str | dict[str, Any] | None = Field(None, description="as network.activation (default: it)")
    initializer: str | dict[str, Any] | None = Field(None, description="as network.initializer (default: it)")


class NetworkConfig(Strict):
    arch: Literal["mlp", "deeponet"] = Field("mlp", description="mlp, or deeponet for problems with function inputs")
    width: PositiveInt = Field(20, le=100_000, description="neurons per hidden layer")
    depth: PositiveInt = Field(3, le=100_000, description="number of hidden layers")
    widths: list[Annotated[int, Field(gt=0, le=100_000)]] | None = Field(
        None, max_length=100_000, description="explicit hidden widths; overrides width/depth")
    activation: str | dict[str, Any] = Field(
        "tanh", description="a registered activation (pinnit list activations): a name, or {name: ..., param: value}")
    initializer: str | dict[str, Any] = Field(
        "xavier_normal", description="a registered initializer (pinnit list initializers): a name, or {name: ..., ...}")
    normalize_inputs: bool = Field(True, description="map the domain box to [-1, 1]^d before the first layer")
    # --- DeepONet (arch: deeponet; pinnit/nn/deeponet.py) ---
    layout: Literal["independent", "shared"] = Field(
        "independent", description="deeponet: one branch+trunk per output field, or one trunk shared by all")
    features: PositiveInt | None = Field(None, le=100_000, description="deeponet: p, the width of the branch "
                                                                       "and trunk outputs (default: width)")
    branch: SubNetConfig | None = Field(None, description="deeponet: the branch net (function at the sensors)")
    trunk: SubNetConfig | None = Field(None, description="deeponet: the trunk net (the coordinates)")

    def hidden_widths(self) -> list[int]:
        return list(self.widths) if self.widths else [self.width] * self.depth

    def parameter_count(self, n_in: int, n_out: int) -> int:
        """Weights and biases of the MLP (a DeepONet's count is :func:`pinnit.nn.deeponet.deeponet_parameter_count`)."""
        sizes = [n_in, *self.hidden_widths(), n_out]
        return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


Bound = float | Annotated[str, Field(max_length=200)]


class RefineRegion(Strict):
    """Extra collocation points in a sub-box: ``{box: {S: [0.4, 0.6], tau: [0, 0.1]}, fraction: 0.3}``; a bound
    may be an expression of the problem's numeric parameters, e.g. ``S: ["K - 0.15", "K + 0.15"]``."""

    box: dict[str, tuple[Bound, Bound]] = Field(
        description="input → [lower, upper]: numbers, or expressions of the problem's numeric parameters "
                    "(numbers, + - * / **, parentheses, parameter names; pinnit/sampling/refine.py)")
    fraction: float = Field(0.2, gt=0, lt=1, description="share of each physics term's points drawn in the box")


class AdaptiveConfig(Strict):
    """Residual-based adaptive collocation points for the physics terms (pinnit/sampling/adaptive.py; Wu et al.
    2023): at each resample, draw from a candidate pool with p ∝ |r|^k / E[|r|^k] + c."""

    method: Literal["none", "rad", "rar_d"] = Field(
        "none", description="none: plain resampling; rad: replace the points by draws ∝ p; rar_d: keep them and "
                            "add `add` draws ∝ p")
    k: NonNegativeFloat | None = Field(None, le=20, description="exponent of the residual (default: rad 1, rar_d 2)")
    c: NonNegativeFloat | None = Field(None, le=1e12, description="uniform share added to the normalised residual "
                                                                  "(default: rad 1, rar_d 0)")
    candidates: PositiveInt | None = Field(
        None, le=50_000_000, description="candidate pool per physics term and resample (default: 10 × the term's "
                                         "points for rad, 10 × add for rar_d, at least 1000)")
    add: PositiveInt | None = Field(None, le=50_000_000, description="rar_d: points added per resample (required)")
    max_points: PositiveInt | None = Field(
        None, le=50_000_000, description="rar_d: stop adding when a term holds this many points (default: no cap)")


class SamplingConfig(Strict):
    sampler: Literal["uniform", "sobol", "lhs"] = Field(
        "sobol", description="how points are drawn (scipy.stats.qmc for sobol and lhs), seeded by training.seed")
    points: dict[str, Annotated[int, Field(gt=0, le=50_000_000)]] = Field(
        default_factory=dict,
        description="points per loss term; keys are the problem's term names (default: the problem's own counts)",
    )
    resample_every: NonNegativeInt = Field(0, description="draw fresh collocation points every k Adam steps (0: never)")
    function_batch: PositiveInt = Field(50, le=10_000_000, description="operator runs only: training functions "
                                                                       "drawn for each Adam step")
    refine: list[RefineRegion] = Field(default_factory=list, description="extra collocation points in sub-boxes")
    adaptive: AdaptiveConfig = Field(default_factory=AdaptiveConfig,
                                     description="residual-based adaptive points (RAD / RAR-D) at each resample")


class Schedule(Strict):
    kind: Literal["constant", "exponential", "inverse_time", "cosine", "step"] = Field(
        "constant", description="how the learning rate changes with the step")
    decay_rate: PositiveFloat = Field(0.5, description="exponential, inverse_time, step: the decay factor")
    decay_steps: PositiveInt = Field(1000, description="steps over which decay_rate applies (cosine: the period)")
    min_lr: NonNegativeFloat = Field(0.0, description="cosine: the lowest learning rate")


class StageConfig(BaseModel):
    """One stage of the training pipeline (pinnit/training/stages.py). Keys other than those below are the
    optimizer's own options (``lr``, ``betas``, ``history_size``, ``c1``, ``c2``, …), checked against its
    registry entry, with the entry's defaults except where pinnit/config/defaults.py says otherwise: an ``lbfgs``
    stage's ``tolerance_grad`` is 1e-9 and ``tolerance_change`` 1e-12 (torch's 1e-7 and 1e-9 stop a PINN's
    L-BFGS early; every older ``training.lbfgs`` config trained with these, and one default serves both)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    optimizer: str | None = Field(None, description="registered optimizer (adam, lbfgs, bfgs, ssbfgs, ssbroyden, "
                                                    "…); default: the stage's name")
    iterations: NonNegativeInt = Field(description="iterations of this stage (quasi-Newton: accepted steps)")
    dtype: Literal["float32", "float64"] | None = Field(
        None, description="parameters, points and loss in this dtype from this stage on (default: training.dtype)")
    loss_form: Literal["mse", "sqrt", "log"] = Field(
        "mse", description="train on the weighted mean-squared loss L, √L or log L (Urbán et al. 2024)")
    resample_every: NonNegativeInt | None = Field(
        None, description="fresh collocation points (sampling.adaptive decides how) every k iterations of this "
                          "stage; 0: never; default: sampling.resample_every")
    chunk: PositiveInt = Field(CHUNK, le=10**9, description="closure optimizers: iterations per optimizer.step call "
                                                            "(progress, checkpoints, evaluation granularity)")
    restarts: NonNegativeInt = Field(
        RESTARTS, description="closure optimizers: when a chunk stops early (line search or tolerance) after "
                              "lowering the loss, clear the curvature memory and go on, at most this many times "
                              "(float32 line searches stall spuriously)")
    schedule: Schedule = Field(default_factory=Schedule, description="first-order optimizers: lr schedule")
    lr_per_omega: PositiveFloat | None = Field(
        None, description="first-order optimizers: lr = lr_per_omega·ω, ω = 1/f'(0) of the activation at its "
                          "initial scales (the band η ∈ [1e-5·ω, 1e-3·ω]); when set it wins, and the stage's lr "
                          "is replaced by the resolved value when the config is loaded")


def _default_stages() -> dict[str, StageConfig]:
    from .dialect import older_stages

    return {name: StageConfig.model_validate(stage) for name, stage in older_stages({}).items()}


class TrainingConfig(Strict):
    stages: dict[str, StageConfig] = Field(
        default_factory=_default_stages,
        description="the training pipeline, in order: stage name → optimizer, iterations, dtype, loss form, "
                    "resampling and the optimizer's options (default: adam 5000 iterations, then lbfgs 0). The "
                    "older training.adam / training.lbfgs keys are read as the stages adam and lbfgs")
    weights: dict[str, NonNegativeFloat] = Field(
        default_factory=dict, description="λ per loss kind (physics, boundary, initial, data) or per term name"
    )
    dtype: Literal["float32", "float64"] = Field("float32", description="default dtype of the stages")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$",
                        description="auto: cuda when available, else cpu")
    seed: NonNegativeInt = Field(0, description="seeds the network, the sampled points and everything else")
    threads: PositiveInt | None = Field(
        None, le=1024, description="CPU threads for torch in this run (None: OMP_NUM_THREADS, else the cores available "
                                 "to the process minus those busy; pinnit/runtime/threads.py)")
    checkpoint_every: NonNegativeInt = Field(1000, description="steps between checkpoints (0: only at the end)")
    time_limit_s: PositiveFloat | None = Field(
        None, description="stop training (status completed) once this many seconds of training time have passed "
                          "— wall time since the run began, across resumes, less the evaluations against the "
                          "reference; checked after each iteration or closure chunk; None: no limit")
    restore_best: bool = Field(
        True, description="save (model.pt, prediction.npz, top-level errors) the weights of the lowest total training "
                          "loss seen, not the last step's; metrics.json records both either way")
    on_divergence: Literal["stop", "rollback"] = Field(
        "stop", description="on a NaN/inf loss: stop (status diverged) or restore the last checkpoint and lower the lr")
    rollback_lr_factor: float = Field(0.1, gt=0, lt=1, description="rollback: learning rate × this")
    max_rollbacks: NonNegativeInt = Field(3, description="rollback: at most this many, then stop")
    derivatives: Literal["auto", "autograd", "jets", "compiled", "compiled_autograd", "zcs"] = Field(
        "auto", description="how residual derivatives are computed, for both kinds of run (pinnit/derivatives/; "
                            "docs/design/engines.md); a value the run's kind does not offer is an error. PINN runs: "
                            "autograd (nested reverse mode), jets (forward jets through the MLP), compiled (the jets' "
                            "whole loss under torch.compile, each Adam iteration fused into one graph), "
                            "compiled_autograd (nested autograd under torch.compile); auto: compiled for runs of ≥ "
                            "1000 steps, else autograd; whatever does not apply falls back (compiled → "
                            "compiled_autograd → autograd) with one line on stderr. Operator runs (functions × points): "
                            "zcs (zero-coordinate shift: a few scalar backward passes), autograd (every point of every "
                            "function), jets (forward jets of the trunk; second order at most, fewest operations); "
                            "auto: zcs. Read under its former names too: training.engine, and jet for jets")


class EvaluationConfig(Strict):
    every: NonNegativeInt = Field(500, description="steps between evaluations against the reference (0: end only)")
    resolution: list[Annotated[int, Field(gt=0, le=100_000)]] | None = Field(
        None, description="grid points per input; default: the problem's")
    functions: NonNegativeInt | None = Field(
        None, description="operator runs only: held-out functions scored (default: all the problem's test ones)")


class OutputConfig(Strict):
    dir: str = Field("outputs", description="run directories go to <dir>/<name>/s<seed>-<hash>/")
    name: str | None = Field(None, description="run name; default: the problem name")
    plots: bool = Field(True, description="write plots/ in the run directory")
    progress: bool = Field(True, description="progress bars (pinnit run --quiet turns them off)")


class RunConfig(Strict):
    problem: ProblemConfig = Field(description="the PDE problem and its parameters")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="the network and its initialization")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="collocation points")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="optimizers, dtype, device, seed")
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig, description="errors against the reference")
    output: OutputConfig = Field(default_factory=OutputConfig, description="the run directory")

    @property
    def run_name(self) -> str:
        """``output.name``, else the declaration file's stem for a declared problem, else the problem name."""
        declared_file = (self.problem.model_extra or {}).get("file")
        if self.output.name:
            return self.output.name
        return Path(str(declared_file)).stem if declared_file else self.problem.name

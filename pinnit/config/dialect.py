"""One training dialect, ``training.stages``; the older form is translated into it when a config is loaded.

The older form — ``training.adam`` then ``training.lbfgs`` — is read (after ``--set`` and a study's overrides
are merged), checked against its own keys, and becomes the stages ``adam`` and ``lbfgs`` with the defaults of
:mod:`pinnit.config.defaults`, so an older config trains exactly as it did: same iterations, options, L-BFGS
tolerances, chunk and restarts, and an L-BFGS stage that never resamples. The resolved config (config.yaml of a
run) holds the stages; an older run's config.yaml (``stages: null`` beside both sections) still loads, so such
a run resumes. A config with ``training.stages`` that also sets ``training.adam`` or ``training.lbfgs`` is
refused with the stage key to set instead (an older resolved config's complete, all-default sections are
dropped: they set nothing).

``training.derivatives`` is likewise read under its former names: ``training.engine`` (once the PINN runs' key)
and the operator value ``jet`` (now ``jets``). An older resolved config holds both former keys, each kind's at
its old default where it did not apply (engine ``auto``, derivatives ``zcs``): the one that is not at its default
is the run's choice, and both at their defaults is ``auto`` (for an operator run, zcs as before).
"""
from __future__ import annotations

import copy
import re
import typing
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

from ..core.errors import ConfigError
from ..core.params import validate_whole
from .defaults import ADAM, LBFGS
from .schema import Schedule, Strict, TrainingConfig

Beta = Annotated[float, Field(ge=0, lt=1)]


class AdamConfig(Strict):
    """``training.adam`` of the older form: the stage ``adam``."""

    iterations: NonNegativeInt = ADAM["iterations"]
    lr: PositiveFloat = ADAM["lr"]
    lr_per_omega: PositiveFloat | None = Field(None, description="as a stage's lr_per_omega")
    betas: tuple[Beta, Beta] = ADAM["betas"]
    schedule: Schedule = Field(default_factory=Schedule)


class LBFGSConfig(Strict):
    """``training.lbfgs`` of the older form: the stage ``lbfgs``."""

    iterations: NonNegativeInt = LBFGS["iterations"]
    lr: PositiveFloat = LBFGS["lr"]
    history_size: PositiveInt = LBFGS["history_size"]
    tolerance_grad: NonNegativeFloat = LBFGS["tolerance_grad"]
    tolerance_change: NonNegativeFloat = LBFGS["tolerance_change"]
    line_search: Literal["strong_wolfe", "none"] = LBFGS["line_search"]
    chunk: PositiveInt = Field(LBFGS["chunk"], le=10**9)
    restarts: NonNegativeInt = LBFGS["restarts"]


SECTIONS: dict[str, type[Strict]] = {"adam": AdamConfig, "lbfgs": LBFGSConfig}
#: the former key of training.derivatives, its former value names, and the two keys' defaults before they were one
FORMER_KEY, FORMER_VALUES, FORMER_DEFAULTS = "engine", {"jet": "jets"}, ("auto", "zcs")
_STAGE_PATH = re.compile(r"training\.stages(?:\.(adam|lbfgs)\b)?")


def translate(data: dict[str, Any]) -> bool:
    """Rewrite ``data['training']`` (a raw config mapping, in place) into the stages form; True when it was
    in the older form. Its keys are checked here, with one-line errors naming ``training.adam.<key>``."""
    training = data.get("training", {})
    if not isinstance(training, dict):
        return False  # the schema names it
    translate_derivatives(training)
    old = {key: training.pop(key) for key in SECTIONS if key in training}
    if training.get("stages") is not None:
        for key, section in old.items():
            _refuse_mixed(key, section, training["stages"])
        return False
    training["stages"] = older_stages(old)
    data["training"] = training
    return True


def translate_derivatives(training: dict[str, Any]) -> None:
    """``training.engine`` → ``training.derivatives`` and ``jet`` → ``jets``, in place (see the module docstring);
    a value no name ever had, or a former engine and derivatives both set, is a one-line error naming the key."""
    derivatives = training.get("derivatives")
    if isinstance(derivatives, str) and derivatives in FORMER_VALUES:
        training["derivatives"] = derivatives = FORMER_VALUES[derivatives]
    if FORMER_KEY not in training:
        return
    engine = training.pop(FORMER_KEY)
    values = typing.get_args(TrainingConfig.model_fields["derivatives"].annotation)
    if not (isinstance(engine, str) and engine in values):
        raise ConfigError(f"training.{FORMER_KEY}", f"{engine!r} is not a derivatives value; training.{FORMER_KEY} "
                                                    f"is the former name of training.derivatives: {', '.join(values)}")
    if derivatives is None:
        training["derivatives"] = engine
    elif engine != FORMER_DEFAULTS[0] and derivatives != FORMER_DEFAULTS[1]:
        raise ConfigError(f"training.{FORMER_KEY}", f"training.{FORMER_KEY} is the former name of "
                                                    f"training.derivatives, which is set too ({derivatives!r}); "
                                                    "keep one: training.derivatives")
    elif engine != FORMER_DEFAULTS[0]:
        training["derivatives"] = engine
    elif derivatives == FORMER_DEFAULTS[1]:
        training["derivatives"] = "auto"


def older_stages(sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The stages ``adam`` and ``lbfgs`` of the older sections (absent ones: their defaults)."""
    adam, lbfgs = (_validated(key, sections.get(key, {})) for key in SECTIONS)
    stages = {"adam": adam.model_dump(mode="json", exclude={"lr_per_omega"}),
              "lbfgs": {**lbfgs.model_dump(mode="json"), "resample_every": LBFGS["resample_every"]}}
    if adam.lr_per_omega is not None:
        stages["adam"]["lr_per_omega"] = adam.lr_per_omega
    return stages


def as_stages(training: Any) -> Any:
    """A resolved config's training section as this version writes it: an older one (``stages: null`` beside
    ``adam`` and ``lbfgs``, or ``engine`` beside ``derivatives``, from a run's config.yaml or a study's plan.json)
    translated and filled in, so that it
    compares equal to the section its run writes now; one in stages (or unreadable) is returned as it is."""
    if not isinstance(training, dict) or not any(key in training for key in (*SECTIONS, FORMER_KEY)) \
            and training.get("derivatives") not in FORMER_VALUES:
        return training
    data = {"training": copy.deepcopy(training)}
    try:
        translate(data)
        return TrainingConfig.model_validate(data["training"]).model_dump(mode="json")
    except (ConfigError, pydantic.ValidationError):
        return training


def older_path(err: ConfigError) -> ConfigError:
    """``err`` with the stages ``adam`` / ``lbfgs`` named as the older keys the config was written with."""
    def name(m: re.Match) -> str:
        return f"training.{m.group(1)}" if m.group(1) else "training"

    return ConfigError(_STAGE_PATH.sub(name, err.path, count=1), _STAGE_PATH.sub(name, err.message))


def _validated(key: str, section: Any) -> Strict:
    from .loading import format_validation_error

    try:
        return validate_whole(SECTIONS[key].model_validate, section)
    except pydantic.ValidationError as exc:
        err = format_validation_error(exc, SECTIONS[key])
        raise ConfigError(f"training.{key}" + (f".{err.path}" if err.path else ""), err.message) from None


def _refuse_mixed(key: str, section: Any, stages: Any) -> None:
    """Allow only an empty section or an older resolved config's complete all-default one; else name a key."""
    model = SECTIONS[key]
    if section == {}:
        return
    given = list(section) if isinstance(section, dict) else []
    try:
        value = model.model_validate(section)
    except pydantic.ValidationError:
        value = None
    if value is not None and set(given) == set(model.model_fields) and value == model():
        return
    changed = [k for k in given if value is None or getattr(value, k, None) != getattr(model(), k, None)]
    first = (changed or given or [""])[0]
    names = ", ".join(map(str, stages)) if isinstance(stages, dict) else ""
    raise ConfigError(f"training.{key}.{first}" if first else f"training.{key}",
                      f"this config trains with training.stages, so training.{key} is not used; set the stage's "
                      f"key instead (e.g. training.stages.<name>.{first or 'iterations'}; stages here: {names})")

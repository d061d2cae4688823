"""mkdocs hook: pages generated at build time from pinnit's own sources, so the help, the errors and the docs
share one text.

- ``reference/config.md``: every run-config key (and every study-file key) with its type, default, bounds and
  description, read from the pydantic schema (:mod:`pinnit.config.schema`, :mod:`pinnit.studies.spec`);
- ``reference/cli.md``: the ``--help`` of ``pinnit`` and of every subcommand, from the argparse parser.
"""
from __future__ import annotations

import os
import types
import typing
from typing import Any

import annotated_types as at
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

_BOUNDS = {at.Gt: ">", at.Ge: "≥", at.Lt: "<", at.Le: "≤"}


def _bounds(metadata) -> list[str]:
    out = []
    for m in metadata:
        for cls, sign in _BOUNDS.items():
            if isinstance(m, cls):
                value = getattr(m, next(iter(m.__dataclass_fields__)))
                out.append(f"{sign} {value:g}" if isinstance(value, (int, float)) else f"{sign} {value}")
        if isinstance(m, at.MinLen):
            out.append(f"at least {m.min_length} entries")
        if getattr(m, "pattern", None):
            out.append(f"matches `{m.pattern}`")
    return out


def type_text(ann: Any, sections: dict[type, list[str]]) -> str:
    """A readable type: ``int > 0``, ``\\`mse\\` | \\`log\\```, ``mapping str → section network.branch``."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if ann is type(None):
        return "null"
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_text(a, sections) for a in args)
    if origin is typing.Annotated:
        return " ".join([type_text(args[0], sections), *_bounds(args[1:])])
    if origin is list:
        return f"list of {type_text(args[0], sections)}"
    if origin is dict:
        return f"mapping {type_text(args[0], sections)} → {type_text(args[1], sections)}"
    if origin is tuple:
        return "[" + ", ".join(type_text(a, sections) for a in args) + "]"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        keys = sections.get(ann)
        return f"[section `{keys[0]}`](#{_anchor(keys[0])})" if keys else "section"
    return "any" if ann is Any else getattr(ann, "__name__", str(ann))


def _anchor(key: str) -> str:
    return key.replace(".", "").replace("<", "").replace(">", "").replace("[", "").replace("]", "")


def _default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, dict) and any(isinstance(v, BaseModel) for v in value.values()):
        return "(sections: see the description)"
    return "null" if value is None else f"`{value!r}`" if isinstance(value, str) else f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _sections(root: type[BaseModel], prefix: str = "") -> dict[type, list[str]]:
    """Every model reachable from ``root`` → its dotted key (``training.stages.<name>``, ``sampling.refine[]``)."""
    found: dict[type, list[str]] = {}

    def walk(model: type[BaseModel], key: str) -> None:
        first = model not in found
        found.setdefault(model, []).append(key)
        for name, field in model.model_fields.items():
            for sub, suffix in _models_in(field.annotation):
                if first:
                    walk(sub, f"{key}.{name}{suffix}" if key else f"{name}{suffix}")

    walk(root, prefix)
    return found


def _models_in(ann: Any, suffix: str = ""):
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        yield ann, suffix
        return
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is list:
        yield from _models_in(args[0], suffix + "[]")
    elif origin is dict:
        yield from _models_in(args[1], suffix + ".<name>")
    else:
        for a in args:
            yield from _models_in(a, suffix)


def model_reference(root: type[BaseModel], title_of_root: str, level: str = "##") -> str:
    sections = _sections(root)
    out = []
    for model, keys in sections.items():
        key = keys[0]
        out.append(f"{level} " + " / ".join(f"`{k}`" for k in keys) + f" {{#{_anchor(key)}}}" if key
                   else f"{level} {title_of_root}")
        out.append("")
        doc = model.__doc__ or ""
        if doc and not doc.startswith(("Usage docs", "!!!")) and model.__module__.startswith("pinnit"):
            out += [" ".join(doc.split()), ""]
        if model.model_config.get("extra") == "allow":
            out += ["Keys other than those below are accepted (see the description above).", ""]
        out += ["| key | type | bounds | default | description |", "| --- | --- | --- | --- | --- |"]
        for name, field in model.model_fields.items():
            ann = field.annotation
            bounds = ", ".join(sorted(_bounds(field.metadata), key=lambda b: b[0] in "<≤"))
            full = f"{key}.{name}" if key else name
            out.append(f"| `{full}` | {_cell(type_text(ann, sections))} | {_cell(bounds)} | {_cell(_default(field))} "
                       f"| {_cell(field.description or '')} |")
        out.append("")
    return "\n".join(out)


def config_reference() -> str:
    from pinnit.config.schema import RunConfig
    from pinnit.studies.spec import StudySpec

    return "\n".join([
        "# Config reference",
        "",
        "Generated at build time from the schema that validates configs (`pinnit/config/schema.py`): the same "
        "keys, defaults, bounds and descriptions that `pinnit run` checks and names in its one-line errors. "
        "Unknown keys are rejected with a did-you-mean. A registry entry (`network.activation`, "
        "`network.initializer`) is a name or a mapping `{name: ..., <parameter>: ...}` whose parameters are "
        "those listed by `pinnit list activations` / `pinnit list initializers`.",
        "",
        "# Run config",
        "",
        model_reference(RunConfig, "Top level"),
        "# Study file",
        "",
        "Read by `pinnit study` (`pinnit/studies/spec.py`); see [Studies and reports](../guides/studies.md).",
        "",
        model_reference(StudySpec, "Study top level").replace("](#", "](#study-").replace("{#", "{#study-"),
    ])


def cli_reference() -> str:
    from pinnit.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal width: fix it for a reproducible page
    parser = build_parser()
    out = ["# Command-line reference", "",
           "Generated at build time from `pinnit`'s own argument parser: this is what `pinnit --help` and "
           "`pinnit COMMAND --help` print. Every example here is run or validated by `tests/test_doc_examples.py`.",
           "", "## pinnit", "", "```text", parser.format_help().rstrip(), "```", ""]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, command in sorted(sub.choices.items()):
        out += [f"## pinnit {name}", "", "```text", command.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def on_files(files, config):
    from mkdocs.structure.files import File

    for path, text in (("reference/config.md", config_reference()), ("reference/cli.md", cli_reference())):
        files.append(File.generated(config, path, content=text))
    return files

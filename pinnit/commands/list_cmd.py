"""``pinnit list``: the registered problems, activations, initializers and optimizers, and the shipped configs, with
one-line descriptions."""
from __future__ import annotations

from .base import command_parser, register_command

KINDS = ("problems", "activations", "initializers", "optimizers", "configs")


@register_command("list")
class ListCommand:
    """List registered problems, activations, initializers and optimizers, and the shipped configs."""

    @staticmethod
    def add_parser(sub) -> None:
        p = command_parser(sub, "list", ListCommand, "list problems, activations, initializers, optimizers, configs")
        p.add_argument("what", nargs="?", choices=KINDS, help="one registry only")

    @staticmethod
    def execute(args) -> int:
        from ..nn.activations import ACTIVATIONS
        from ..nn.initializers import INITIALIZERS
        from ..problems import PROBLEMS
        from ..core.shipped import describe, shipped, shipped_root
        from ..training.optimizers import OPTIMIZERS

        registries = {"problems": PROBLEMS, "activations": ACTIVATIONS, "initializers": INITIALIZERS,
                      "optimizers": OPTIMIZERS}
        for kind in [args.what] if args.what else KINDS:
            if kind == "configs":
                print(f"configs (shipped in {shipped_root() / 'configs'}; `pinnit run NAME.yaml`, "
                      f"`pinnit init NAME` copies one):")
                entries = {p.stem: describe(p) for p in shipped("configs")}
            else:
                print(f"{kind}:")
                entries = registries[kind].describe()
            width = max(map(len, entries), default=0)
            for name, text in entries.items():
                print(f"  {name:<{width}}  {text}")
        return 0

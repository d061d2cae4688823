"""``pinnit list``: the registered problems, activations and initializers with one-line descriptions."""
from __future__ import annotations

from .base import register_command

KINDS = ("problems", "activations", "initializers")


@register_command("list")
class ListCommand:
    """List registered problems, activations and initializers."""

    @staticmethod
    def add_parser(sub) -> None:
        p = sub.add_parser("list", help="list problems, activations, initializers", description=ListCommand.__doc__)
        p.add_argument("what", nargs="?", choices=KINDS, help="one registry only")

    @staticmethod
    def execute(args) -> int:
        from ..nn.activations import ACTIVATIONS
        from ..nn.initializers import INITIALIZERS
        from ..problems import PROBLEMS

        registries = {"problems": PROBLEMS, "activations": ACTIVATIONS, "initializers": INITIALIZERS}
        for kind in [args.what] if args.what else KINDS:
            print(f"{kind}:")
            entries = registries[kind].describe()
            width = max(map(len, entries), default=0)
            for name, text in entries.items():
                print(f"  {name:<{width}}  {text}")
        return 0

"""``pinnit init``: copy a shipped config (and the declaration it reads) into a folder, to edit and run."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from ..core.errors import PinnitError
from .base import command_parser, register_command

EXAMPLES = """examples:
  pinnit init burgers                 # ./burgers.yaml
  pinnit init heat my_heat.yaml       # ./my_heat.yaml and ./problems/heat.yaml (the declaration it reads)
  pinnit init problems/heat           # ./heat.yaml: a PDE declaration (prints the command that trains it)
  pinnit list configs                 # what is shipped
"""


@register_command("init")
class InitCommand:
    """Copy a shipped config into the current directory (or DEST) to edit it."""

    @staticmethod
    def add_parser(sub) -> None:
        p = command_parser(sub, "init", InitCommand, "copy a shipped config to edit", EXAMPLES)
        p.add_argument("name", help="a shipped config (burgers, heat, …) or problems/<name> for a declaration")
        p.add_argument("dest", nargs="?", help="file or folder to write (default: ./<name>.yaml)")
        p.add_argument("--force", action="store_true", help="replace existing files")

    @staticmethod
    def execute(args) -> int:
        from ..core.shipped import find_shipped, require_shipped

        source, kind = require_shipped(args.name)
        dest = Path(args.dest) if args.dest else Path(source.name)
        if dest.is_dir() or (args.dest or "").endswith(("/", "\\")):  # an existing folder, or `sub/`
            dest = dest / source.name
        copies = [(source, dest)]
        if kind == "configs":  # a declared config reads problems/<x>.yaml: copy it next to the config
            problem = (yaml.safe_load(source.read_text()) or {}).get("problem", {})
            file = problem.get("file") if isinstance(problem, dict) else None
            declaration = find_shipped(file, "problems") if isinstance(file, str) else None
            if declaration is not None and not Path(file).is_absolute():
                copies.append((declaration, dest.parent / file))
        for src, dst in copies:
            if dst.exists() and not args.force:
                raise PinnitError(f"init: {dst} exists; use --force to replace it")
        for src, dst in copies:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            print(f"wrote {dst} (from {src})")
        if kind == "configs" and len(copies) > 1 and dest.parent.resolve() != Path.cwd().resolve():
            # the config reads its declaration relative to the current directory
            print(f"run it with: cd {dest.parent} && pinnit run {dest.name}")
        elif kind == "configs":
            print(f"run it with: pinnit run {dest}")
        else:
            from ..core.shipped import run_declaration_command

            print(f"{dest} is a PDE declaration, not a run config; train it with: {run_declaration_command(dest)}")
        return 0

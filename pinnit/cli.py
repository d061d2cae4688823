"""The ``pinnit`` command line. Subcommands live in :mod:`pinnit.commands`, one file each.

User errors (:class:`~pinnit.core.errors.PinnitError`) print one line and exit 2; ``--debug`` shows the
traceback. An interrupted run exits 130 after writing its checkpoint.
"""
from __future__ import annotations

import argparse
import sys

from .core.version import __version__
from .commands import COMMANDS
from .core.errors import PinnitError
from .runtime.threads import configure_openmp

EPILOG = """examples:
  pinnit run configs/burgers.yaml
  pinnit run configs/burgers.yaml --set training.stages.adam.iterations=500 --set network.width=32
  pinnit run --resume RUN_DIR                 # RUN_DIR: the "run directory:" pinnit run printed
  pinnit study configs/studies/burgers_scale_cpu.yaml      # ends with pinnit report
  pinnit predict RUN_DIR --lid LID.npy --reference --plot  # RUN_DIR of configs/stokes_deeponet_cpu.yaml
  pinnit list configs
  pinnit init burgers                         # copy a shipped config here to edit
each command has its own --help with examples
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinnit", description="Physics-informed neural networks from YAML configs.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pinnit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        COMMANDS.get(name).add_parser(sub)
    for command in sub.choices.values():  # `pinnit run X --debug` works as well as `pinnit --debug run X`
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show full tracebacks for errors")
    return parser




def _set_split(argv: list[str]) -> str | None:
    """The one-line error for ``--set KEY VALUE`` (a space where ``=`` belongs), or None."""
    for i, arg in enumerate(argv[:-2]):
        key, value = argv[i + 1], argv[i + 2]
        if arg == "--set" and "=" not in key and not value.startswith("-"):
            return (f"--set {key} {value}: write KEY.PATH=VALUE as one argument, e.g. --set {key}={value}")
    return None


def main(argv: list[str] | None = None) -> int:
    configure_openmp()  # before any command imports torch (pinnit/runtime/threads.py)
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    split = _set_split(argv)
    if split:  # before argparse, which would call VALUE an unrecognized argument
        print(f"pinnit: error: {split}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(COMMANDS.get(args.command).execute(args) or 0)
    except PinnitError as exc:
        if args.debug:
            raise
        print(f"pinnit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # e.g. a full disk: the last checkpoint, written atomically, is still intact
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"pinnit: error: {where}{exc.strerror or exc}; the last checkpoint written is intact "
              "(pinnit run --resume RUN_DIR continues from it)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pinnit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Entry point of the ``oddsline`` command: parsing, dispatch, and turning errors into exit codes.

Exit codes (also in README and ``oddsline --help``), so that a scheduler can tell drift from a bug:

    0   success
    1   a check failed: the gate refused a challenger (validate, retrain), drift or a retrain trigger (monitor)
    2   a user mistake: bad arguments, bad data, a damaged model file (one line on stderr, no traceback)
    70  an internal error of oddsline (EX_SOFTWARE of sysexits.h): please report it
    75  the registry's database stayed locked by another writer (EX_TEMPFAIL): retry the same command
    130 interrupted (Ctrl-C)

Numerical warnings of numpy (overflow in a degenerate bootstrap resample, ...) are not shown: what a
user must know is said by oddsline itself, as a line that starts with "warning:".
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import NoReturn

from .._exceptions import OddslineError, RegistryBusyError
from .._version import __version__
from . import (
    commands,
    export_command,
    labels_command,
    monitor_command,
    observe_command,
    registry_command,
    serve_command,
    spec_command,
)

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 70
EXIT_RETRY = 75  # EX_TEMPFAIL: a busy registry; the same command later will do
EXIT_CODES_HELP = (
    "exit codes: 0 success, 1 a check failed (gate, drift, trigger), 2 a user mistake (the message says "
    "which and how to fix it), 70 an internal error (please report it), 75 the registry was locked (retry), "
    "130 interrupted"
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one line (plus where to get help), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="oddsline",
        description="Production logistic regression: train a model on a labelled table, evaluate it, "
        "score new rows, and inspect what it learned.",
        epilog="Example: oddsline train examples/data/telco_churn.csv --target churn --out churn.odl\n\n"
        + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"oddsline {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    verbs.required = True
    for register in (
        commands.add_train,
        commands.add_evaluate,
        commands.add_predict,
        commands.add_inspect,
        spec_command.add_spec,
        registry_command.add_registry,
        registry_command.add_keys,
        registry_command.add_sign,
        registry_command.add_validate,
        registry_command.add_retrain,
        export_command.add_export,
        serve_command.add_serve,
        monitor_command.add_monitor,
        labels_command.add_labels,
        observe_command.add_observe,
    ):
        register(verbs)
    _remember_parsers(parser)
    return parser


def _remember_parsers(parser: argparse.ArgumentParser) -> None:
    """Each (sub)command's parser in its namespace, so that a stray argument is reported by the command
    it was given to, with that command's usage, not by the top-level parser as "oddsline: error"."""
    parser.set_defaults(_parser=parser)
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _remember_parsers(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        command = getattr(args, "_parser", parser)
        command.error(f"unrecognized arguments: {' '.join(extras)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return int(args.run(args))
    except RegistryBusyError as exc:  # not a mistake: the same command later will do
        print(f"oddsline {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_RETRY
    except OddslineError as exc:
        print(f"oddsline {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        # The reader went away (``oddsline inspect m.odl | head``): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"oddsline {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an oddsline bug: one line by default, the traceback on request
        if os.environ.get("ODDSLINE_DEBUG"):
            traceback.print_exc()
        else:
            print(
                f"oddsline {args.verb}: internal error: {type(exc).__name__}: {exc} "
                "(set ODDSLINE_DEBUG=1 for the traceback and please report it)",
                file=sys.stderr,
            )
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())

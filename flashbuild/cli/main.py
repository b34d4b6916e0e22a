"""The ``flash`` command line: argv -> command -> exit code.

The ``cli`` package is the only part of flashbuild that prints or chooses an
exit code. stdout carries each command's result (``--json`` documents, the
``--dry-run`` table, ``manifest show|diff`` reports, ``cache info``); stderr
carries progress, summaries, warnings and errors (and, on GitHub Actions, their
annotations). The same CLI is installed as ``flash`` and ``flashbuild``; it speaks
with the name it was called by, and completes commands in the shell through
click (``_FLASH_COMPLETE=bash_source flash``).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click
from click.shell_completion import shell_complete

from .. import __version__
from ..errors import FlashBuildError, InternalError, UsageError
from .github import annotate_error
from .job_summary import summarize_failure
from .program import DEFAULT_PROGRAM, completion_variable, detect_program_name
from .report import INTERRUPTED, error_document, report_error
from .signals import signals_interrupt

# command -> its module in this package
_COMMANDS = {"build": "build", "lock": "build", "cache": "cache", "images": "images",
             "manifest": "manifest", "preview": "preview", "verify": "verify"}


class _LazyGroup(click.Group):
    """Imports a command's module when the command is used (or listed by --help):
    a build does not pay for loading the preview server or the manifest differ."""

    def list_commands(self, _ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, _ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module = importlib.import_module(f"{__package__}.{_COMMANDS[cmd_name]}")
        command = getattr(module, cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version")
def cli() -> None:
    """Build Flash apps into deployable artifacts."""


def run() -> NoReturn:
    """The ``flash`` and ``flashbuild`` console scripts: :func:`main`, then exit at once.

    Everything is written and closed when ``main`` returns; skipping the
    interpreter's teardown (freeing a large build's objects one by one) saves
    up to a second on a big project.
    """
    code = main(program=detect_program_name(sys.argv[0]))
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None, *, program: str = DEFAULT_PROGRAM) -> int:
    """Run the CLI and return its exit code (the console script exits with it).

    ``program`` is the name it was called by, shown in usage text and messages.
    """
    # Set once a command parses its options; read when reporting an error.
    args = list(argv if argv is not None else sys.argv[1:])
    state: dict[str, Any] = {"verbose": 0, "json": _wants_json(args), "annotations": None,
                             "project_dir": None, "job_summary": False}
    variable = completion_variable(program)
    if os.environ.get(variable):  # the shell asks for completions
        return shell_complete(cli, {"obj": state}, program, variable, os.environ[variable])
    try:
        with signals_interrupt(), cli.make_context(program, args, obj=state) as ctx:
            result = cli.invoke(ctx)
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        return _report_click_error(exc, args)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(f"{program}: interrupted", err=True)
        return INTERRUPTED
    except FlashBuildError as error:
        return _report(error, state, program)
    except Exception as exc:  # a bug: say so, show the traceback on request
        bug = InternalError(
            f"{type(exc).__name__}: {exc}",
            hint="This is a bug in flashbuild; rerun with -v for the traceback and report it.",
        )
        return _report(bug, state, program)


def _report(error: FlashBuildError, state: dict[str, Any], program: str) -> int:
    """Report an error the way the command's options asked; its exit code."""
    report_error(error, as_json=state["json"], verbose=state["verbose"], program=program)
    annotate_error(error, project_dir=state["project_dir"], mode=state["annotations"],
                   program=program)
    if state["job_summary"]:
        summarize_failure(error, project_dir=state["project_dir"], program=program)
    return error.exit_code


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asks for JSON output (``--json``, ``--format json``), for
    errors raised before or without the command recording it."""
    options = args[: args.index("--")] if "--" in args else args
    pairs = itertools.pairwise(options)  # each option with the word after it
    return "--json" in options or "--format=json" in options or ("--format", "json") in pairs


def _report_click_error(exc: click.ClickException, args: list[str]) -> int:
    """Click's own message for a bad command line; with ``--json``, the error document too.

    Options are not parsed yet, so ``--json`` is looked for in the raw arguments.
    """
    exc.show()
    options = args[: args.index("--")] if "--" in args else args
    if _wants_json(args):
        error = UsageError(exc.format_message(), hint="Run the command with --help for its "
                           "options and arguments.")
        document = error_document(error)
        document["error"]["exit_code"] = exc.exit_code
        one_line = bool(options) and options[0] == "preview"  # preview prints JSON lines
        click.echo(json.dumps(document, indent=None if one_line else 2, sort_keys=True))
    return exc.exit_code

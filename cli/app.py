"""The ``ol`` command: assembles the sub-commands and turns errors into one line and exit 1."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from ol.cli import (
    INTERRUPTED,
    analyze_cmd,
    events_cmd,
    experiments_cmd,
    export_cmd,
    hooks_cmd,
    index_cmd,
    new_cmd,
    plot_cmd,
    query_cmd,
    replay_cmd,
    runs_cmd,
    sweep_cmd,
    tail_cmd,
    ui_cmd,
    verify_cmd,
)
from ol.cli.common import complete_experiments
from ol.errors import OlError
from ol.terminal import printable


class OlGroup(TyperGroup):
    """Runs commands so that no traceback reaches a user unless they pass --debug."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = root_flags_first(list(sys.argv[1:] if args is None else args))
        debug = "--debug" in argv
        try:
            code = super().main(args=argv, prog_name=prog_name or "ol", complete_var=complete_var,
                                standalone_mode=False, **extra)
            if code == INTERRUPTED:  # typer turns Ctrl+C inside a command into a silent return of 130
                _fail("interrupted", debug, code=INTERRUPTED)
            if isinstance(code, int) and code:  # typer.Exit(n) comes back as n without standalone mode
                sys.exit(code)
            return code
        except typer.Exit as e:
            if isinstance(e.__cause__, KeyboardInterrupt):  # typer turns Ctrl+C inside a command into a silent exit
                _fail("interrupted", debug, code=INTERRUPTED)
            sys.exit(e.exit_code)
        except typer.Abort:
            _fail("aborted", debug)
        except typer.TyperException as e:  # usage errors: a wrong flag, a bad value, a missing argument
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `ol` or `ol GROUP`: show the help
                print(e.format_message())
                sys.exit(0)
            ctx = getattr(e, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            message = e.format_message() if hasattr(e, "format_message") else str(e)
            _fail(f"{message}{hint}", debug, e)
        except OlError as e:
            _fail(str(e), debug, e)
        except KeyboardInterrupt:
            _fail("interrupted", debug, code=INTERRUPTED)
        except BrokenPipeError:
            sys.exit(0)  # `ol events ... | head`: the reader left, that is not an error
        except Exception as e:
            _fail(f"internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", debug, e)
        return None


ROOT_FLAGS = ("--debug", "--no-color")


def root_flags_first(argv: list[str]) -> list[str]:
    """``--debug`` and ``--no-color`` belong to every command: given anywhere (``ol runs --debug``,
    ``ol train X --debug``) they are moved to the root, where they are declared once. Not after ``--``."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in ROOT_FLAGS]
    return list(dict.fromkeys(flags)) + [a for a in argv[:end] if a not in ROOT_FLAGS] + argv[end:]


def _fail(message: str, debug: bool, exc: BaseException | None = None, code: int = 1) -> None:
    if debug and exc is not None:
        raise exc
    print(f"error: {printable(message)}", file=sys.stderr)
    sys.exit(code)


app = typer.Typer(
    cls=OlGroup,
    name="ol",
    help="Record training runs to a crash-safe event log and look at them every way afterwards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion: run ids and experiments from the store
    rich_markup_mode=None,
)


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours (as the NO_COLOR environment variable)."),
) -> None:
    """Record training runs to a crash-safe event log and look at them every way afterwards."""
    if no_color:
        from ol.cli.common import console, err_console

        console.no_color = err_console.no_color = True


def train(
    ctx: typer.Context,
    experiment: str = typer.Argument(None, help="Experiment to train (see `ol experiments`).",
                                     autocompletion=complete_experiments),
) -> None:
    """Train an experiment: one recorded run per strategy, the console following its log.

    ol train EXPERIMENT [--strategy NAME|all] [--preset NAME] [--seed N] [--epochs N] [--store DIR]
    [--config FILE] [--save-checkpoints [EVERY]] [--resume [RUN]] [--live|--silent|--quiet]
    [--device DEV] [experiment options…]; `ol train EXPERIMENT --help` lists the options.
    """
    from ol.cli import train_cmd  # torch and the experiments load for training only

    train_cmd.train(ctx, experiment)


app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)(train)
app.command("experiments")(experiments_cmd.experiments)
app.command("new")(new_cmd.new)
app.command("tail")(tail_cmd.tail)
app.command("runs")(runs_cmd.runs)
app.command("events")(events_cmd.events)
app.command("verify")(verify_cmd.verify)
app.command("query")(query_cmd.query)
app.add_typer(index_cmd.index_app, name="index")
app.command("export")(export_cmd.export)
app.add_typer(plot_cmd.plot_app, name="plot")
app.add_typer(analyze_cmd.analyze_app, name="analyze")
app.command("replay")(replay_cmd.replay_cmd)
app.command("hooks")(hooks_cmd.hooks_cmd)
app.command("ui")(ui_cmd.ui)
app.command("sweep", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(sweep_cmd.sweep)


def main() -> None:
    app()

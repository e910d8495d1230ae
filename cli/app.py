"""The ``ol`` command: assembles the sub-commands and turns errors into one line and exit 1."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperCommand, TyperGroup

from ol.cli import INTERRUPTED, commands
from ol.cli.common import complete_experiments
from ol.errors import OlError
from ol.terminal import printable


class OlGroup(TyperGroup):
    """Runs commands so that no traceback reaches a user unless they pass --debug; loads each command's
    module only when that command runs (cli/commands.py)."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*super().list_commands(ctx), *commands.COMMANDS]

    def get_command(self, ctx: typer.Context, name: str):
        found = super().get_command(ctx, name)
        return commands.load(name) if found is None and name in commands.COMMANDS else found

    def format_commands(self, ctx: typer.Context, formatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:  # a stand-in carries a command's summary, so listing them imports none
            command = (TyperCommand(name, help=commands.summary(name)) if name in commands.COMMANDS
                       else super().get_command(ctx, name))
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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

    `ol train EXPERIMENT [--strategy NAME|all] [--preset NAME] [--seed N] [--epochs N] [--store DIR]
    [--config FILE] [--save-checkpoints [EVERY]] [--resume [RUN]] [--live|--silent|--quiet]
    [--device DEV] [EXPERIMENT OPTIONS…]`; `ol train EXPERIMENT --help` lists the options.
    """
    from ol.cli import train_cmd  # torch and the experiments load for training only

    train_cmd.train(ctx, experiment)


app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)(train)
# every other command is in cli/commands.py, loaded when it runs


def main() -> None:
    app()

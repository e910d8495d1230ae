"""The ``ol`` command line. ``main`` is the console script: it loads the app inside its own guard,
so Ctrl+C at any moment — even while modules are still being imported — ends in one line."""

import sys

INTERRUPTED = 130  # the shell's convention for a process ended by SIGINT


def main() -> None:
    try:
        from ol.cli.app import main as run

        run()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED)

"""`python -m ol.cli` runs the `ol` command."""

from ol.cli import main

if __name__ == "__main__":  # importing this module (e.g. to check a wheel) must not run the CLI
    main()

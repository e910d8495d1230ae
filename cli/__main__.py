"""`python -m ol.cli` runs the `ol` command."""

from ol.cli.app import main

main()

"""The one base error of ol: every message names its subsystem and says what to do."""


class OlError(Exception):
    """Base of every error ol raises on purpose; the CLI prints it as one line and exits 1."""

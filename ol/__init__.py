"""ol: an experiment framework for training-data order, built on an event-sourced metric store."""

__version__ = "0.1.0"

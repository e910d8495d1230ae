"""The version of ol that writes a log (recorded in each run's environment): kept with the format's own versions,
in the lowest layer, so every layer reads it without importing upward."""

__version__ = "0.1.0"

"""ol: an experiment framework for training-data order, built on an event-sourced metric store.

For analysis in notebooks: ``store = ol.open("runs")`` (see ``ol.consumers.analytics.notebook``).
"""

from __future__ import annotations


def open(path="runs"):  # noqa: A001 - ol.open(...) reads as the store's own verb, like h5py.File or zarr.open
    """Open a store of runs for reading: ``store.runs()``, ``.query(sql)``, ``.metrics(...)``, ``.compare(...)``,
    ``.best(metric)``, ``.plot.curves(...)``. Imported on first use, so `import ol` (and the CLI) stays light."""
    from ol.consumers.analytics.notebook import Store

    return Store(path)


# run.log({"weights": ol.Histogram(w), "sample": ol.Image(x), "errors": ol.Table(...)}): loaded on first use,
# like ol.open, so `import ol` stays light
_MEDIA = ("Histogram", "Image", "Table")


def __getattr__(name: str):
    if name in _MEDIA:
        from ol.producer import media

        return getattr(media, name)
    if name == "__version__":  # lives with the format's versions; `import ol` (the CLI's first line) loads nothing
        from ol.schemas.version import __version__

        return __version__
    raise AttributeError(f"module 'ol' has no attribute {name!r}")


__all__ = ["Histogram", "Image", "Table", "__version__", "open"]

"""ol's own experiments, one sub-package each with an ``EXPERIMENT``; they are registered in the entry-point
group ``ol.experiments`` (pyproject.toml), where another package adds its own (`ol new`)."""

from ol.producer.registry import ENTRY_POINT_GROUP, discover, get

__all__ = ["ENTRY_POINT_GROUP", "discover", "get"]

"""The producer side of ol: the recording API (``Run``) and, built on it, the training engine."""

from ol.producer.media import Histogram, Image, Table
from ol.producer.run import Run
from ol.producer.signals import Terminated

__all__ = ["Histogram", "Image", "Run", "Table", "Terminated"]

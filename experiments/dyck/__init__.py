"""Dyck-2 language modelling with curricula: a tiny causal transformer learns balanced brackets."""

from ol.experiments.dyck.experiment import EXPERIMENT, Dyck

__all__ = ["EXPERIMENT", "Dyck"]

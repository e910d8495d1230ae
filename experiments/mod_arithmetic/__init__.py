"""(a + b) mod p with a small transformer: the flagship grokking experiment."""

from ol.experiments.mod_arithmetic.experiment import EXPERIMENT, ModArithmetic

__all__ = ["EXPERIMENT", "ModArithmetic"]

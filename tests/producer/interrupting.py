"""A hook that sends this process a real SIGINT after a given step, as Ctrl+C would: for the tests that
interrupt a training mid-epoch and resume it."""

from __future__ import annotations

import os
import signal

from ol.producer.hooks import Hook


class InterruptAt(Hook):
    name = "interrupt_at"
    points = ("post_step",)

    def __init__(self, step: int):
        self.step = step

    def fire(self, point, ctx):
        if ctx.step == self.step:
            os.kill(os.getpid(), signal.SIGINT)
        return None

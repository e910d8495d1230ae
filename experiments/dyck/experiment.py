"""The dyck experiment: a tiny causal transformer learns Dyck-k; does the curriculum change how fast?

Unlike mod_arithmetic, its main metric is a loss (validation nats per token, lower is better), its samples
vary in difficulty (how many bracket pairs, or how deep they nest), and its orderings are curricula.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ol.experiments.dyck.config import PRESETS, DyckConfig
from ol.experiments.dyck.data import PAD, STRATEGIES, closing_positions, epoch_order, generate, seq_len, vocab_size
from ol.experiments.dyck.model import BracketLM
from ol.producer.experiment import Experiment, SampleStream, Setup, dataset_digest, torch_generator
from ol.producer.pacing import PACINGS
from ol.producer.schedules import warmup_cosine

EVAL_BATCH = 1024
ORDER_GENERATORS = {"fixed": torch_generator("randperm, seeded seed·1000003 + 7"),
                    "random": torch_generator("randperm, seeded seed·1000003 + 11 + epoch"),
                    "easy-to-hard": torch_generator("randperm seeded seed·1000003 + 11 + epoch, then a stable sort "
                                                    "by difficulty"),
                    "hard-to-easy": torch_generator("randperm seeded seed·1000003 + 11 + epoch, then a stable sort "
                                                    "by difficulty, hardest first"),
                    **{f"{p}-pacing": torch_generator(f"{p} pacing of the easiest strings (ties seeded "
                                                      "seed·1000003 + 13), each pass a randperm seeded "
                                                      "seed·1000003 + 17 + epoch") for p in PACINGS}}


class Dyck(Experiment):
    name = "dyck"
    description = "A tiny causal transformer learns balanced brackets (Dyck-k); curricula order the strings."
    config_type = DyckConfig
    strategies = STRATEGIES
    presets = PRESETS
    default_preset = "quick"
    provides = frozenset({"embeddings"})
    # next-token cross-entropy in nats; accuracies a fraction of the predictions scored
    units = {"loss": "nats", "train_loss": "nats", "val_loss": "nats", "val_acc": "fraction",
             "val_close_acc": "fraction"}
    sidebar = [("loss", "batch loss"), ("val_loss", "val loss"), ("val_close_acc", "closing acc"),
               ("train_loss", "train loss"), ("lr", "learning rate"), ("norms/total_norm", "grad norm ‖ḡ‖")]

    def sample_stream(self, config: DyckConfig, strategy: str, seed: int, epoch: int = 0,
                      ids: torch.Tensor | None = None) -> SampleStream:
        """Each training string's length (bracket pairs) and deepest nesting, in the order ``strategy`` feeds
        them in ``epoch`` (or in the order of ``ids``): the same strings and order function ``setup`` uses."""
        c = config
        self.check_strategy(strategy)
        _, train_pairs, train_depth, _ = _strings(c, seed)
        order = self.epoch_order(c, strategy, seed, epoch) if ids is None else ids
        return SampleStream({"pairs": train_pairs[order].numpy(), "depth": train_depth[order].numpy()},
                            modulus=c.max_pairs + 1, batch_size=c.batch_size)

    def epoch_order(self, config: DyckConfig, strategy: str, seed: int, epoch: int) -> torch.Tensor:
        c = config
        self.check_strategy(strategy)
        _, train_pairs, train_depth, _ = _strings(c, seed)
        return epoch_order(strategy, train_pairs if c.difficulty == "length" else train_depth, seed, epoch,
                           c.pace_start, c.pace_epochs)

    def setup(self, config: DyckConfig, strategy: str, seed: int, device: torch.device) -> Setup:
        c = config
        self.check_strategy(strategy)
        train, train_pairs, train_depth, val = _strings(c, seed)
        difficulty = train_pairs if c.difficulty == "length" else train_depth
        train, val = train.to(device), val.to(device)

        model = BracketLM(vocab_size(c.bracket_types), seq_len(c.max_pairs) - 1, c.d_model, c.n_heads,
                          c.n_layers, c.d_ff, c.dropout).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        steps_per_epoch = math.ceil(c.train_size / c.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(c.warmup_steps,
                                                                               steps_per_epoch * c.epochs))

        dataset = dataset_digest(train)

        def order(epoch: int) -> torch.Tensor:
            return epoch_order(strategy, difficulty, seed, epoch, c.pace_start, c.pace_epochs)

        def make_batch(idx: torch.Tensor):
            return train[idx, :-1], train[idx, 1:]

        def batch_loss(model: nn.Module, batch):
            x, y = batch
            logits = model(x)
            real = y != PAD
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=PAD)
            return loss, ((logits.argmax(-1) == y) & real).sum(), real.sum()

        def evaluate(model: nn.Module) -> dict[str, float]:
            total, tokens = torch.zeros((), device=device), torch.zeros((), device=device)
            correct, closing, closing_right = (torch.zeros((), device=device) for _ in range(3))
            for chunk in val.split(EVAL_BATCH):
                x, y = chunk[:, :-1], chunk[:, 1:]
                logits = model(x)
                real, close = y != PAD, closing_positions(y)
                total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                     ignore_index=PAD, reduction="sum")
                hit = logits.argmax(-1) == y
                tokens += real.sum()
                correct += (hit & real).sum()
                closing += close.sum()
                closing_right += (hit & close).sum()
            n = tokens.clamp_min(1)
            return {"val_loss": (total / n).item(), "val_acc": (correct / n).item(),  # note: sync points
                    "val_close_acc": (closing_right / closing.clamp_min(1)).item()}

        return Setup(model=model, optimizer=optimizer, scheduler=scheduler, epochs=c.epochs, train_size=len(train),
                     epoch_order=order, make_batch=make_batch, batch_size=c.batch_size,
                     batch_loss=batch_loss, evaluate=evaluate,
                     eval_every=c.eval_every, log_every=c.log_every, snapshot_every=c.snapshot_every,
                     target_metric="val_loss", target_direction="lower",
                     target_value=c.target_loss or None, stop_at_target=c.stop_at_target,
                     capabilities={"embeddings": model.embed, "readout": model.readout},
                     order_generator=ORDER_GENERATORS[strategy], dataset=dataset)


EXPERIMENT = Dyck()


def _strings(c: DyckConfig, seed: int):
    """(train tokens, their pairs, their depth, validation tokens): train and validation strings come from one
    seeded stream, disjoint draws of the same distribution; one function for training and `ol analyze order`."""
    gen = torch.Generator().manual_seed(c.data_seed if c.data_seed >= 0 else seed)
    train, train_pairs, train_depth = generate(c.train_size, c.bracket_types, c.min_pairs, c.max_pairs, c.open_prob,
                                               gen)
    val, _, _ = generate(c.val_size, c.bracket_types, c.min_pairs, c.max_pairs, c.open_prob, gen)
    return train, train_pairs, train_depth, val

"""The mod_arithmetic experiment: learn (a + b) mod p and watch the order of examples matter."""

from __future__ import annotations

import math

import torch
from torch import nn

from ol.errors import UsageError
from ol.experiments.mod_arithmetic.config import PRESETS, ModArithmeticConfig
from ol.experiments.mod_arithmetic.data import STRATEGIES, default_stride, epoch_order, labels, split_pairs
from ol.experiments.mod_arithmetic.model import ModAddTransformer
from ol.producer.experiment import Experiment, SampleStream, Setup, dataset_digest, torch_generator
from ol.producer.schedules import warmup_cosine

PROBE_SIZE = 256  # test pairs the attention hook looks at
ORDER_GENERATORS = {"stride": "sorted by (a mod stride, a)", "target": "sorted by ((a + b) mod p, a)",
                    "random": torch_generator("randperm, seeded mix(seed, epoch)"),
                    "fixed-random": torch_generator("randperm, seeded mix(seed, -1)")}


class ModArithmetic(Experiment):
    name = "mod_arithmetic"
    description = "A small transformer learns (a + b) mod p from a fraction of all pairs and groks."
    config_type = ModArithmeticConfig
    strategies = STRATEGIES
    presets = PRESETS
    default_preset = "quick"
    provides = frozenset({"attention", "embeddings", "cyclic_tokens"})  # tokens 0..p-1 are Z/p
    # cross-entropy in nats; accuracies a fraction of the pairs
    units = {"loss": "nats", "train_loss": "nats", "test_loss": "nats", "test_acc": "fraction"}
    sidebar = [("loss", "batch loss"), ("test_acc", "test acc"), ("train_acc", "train acc"), ("lr", "learning rate"),
               ("norms/total_norm", "grad norm ‖ḡ‖"), ("counterfactual/ordering_fraction", "ordering fraction"),
               ("fourier/embed/peak_frequency", "peak frequency"),
               ("fourier/embed/spectral_entropy", "spectral entropy")]

    def sample_stream(self, config: ModArithmeticConfig, strategy: str, seed: int, epoch: int = 0,
                      ids: torch.Tensor | None = None) -> SampleStream:
        """a, b and (a + b) mod p of every training pair, in the order ``strategy`` feeds them in ``epoch``
        (or in the order of ``ids``): the same split and the same order function ``setup`` trains with."""
        c = config
        self.check_strategy(strategy)
        _validate(c)
        train, _ = _split(c, seed)
        order = epoch_order(strategy, train, c.p, seed, epoch, c.stride or default_stride(c.p)) if ids is None else ids
        pairs = train[order]
        return SampleStream({"a": pairs[:, 0].numpy(), "b": pairs[:, 1].numpy(),
                             "target": labels(pairs, c.p).numpy()}, modulus=c.p, batch_size=c.batch_size)

    def epoch_order(self, config: ModArithmeticConfig, strategy: str, seed: int, epoch: int) -> torch.Tensor:
        c = config
        self.check_strategy(strategy)
        return epoch_order(strategy, _split(c, seed)[0], c.p, seed, epoch, c.stride or default_stride(c.p))

    def probe(self, model: ModAddTransformer, config: ModArithmeticConfig, b: int, position: str):
        """The encoder's output (the residual stream the read-out reads) for every a with ``b`` fixed, at the
        token of a ("0"), of b ("1"), or averaged over the three positions ("mean")."""
        if not 0 <= b < config.p:
            raise UsageError(f"mod_arithmetic: --b must be in 0…{config.p - 1}, got {b}")
        pairs = torch.stack([torch.arange(config.p), torch.full((config.p,), b)], dim=1)
        eq = torch.full((config.p, 1), config.p, dtype=pairs.dtype)
        with torch.no_grad():
            h = model.encoder(model.embed(torch.cat([pairs, eq], dim=1)) + model.pos)
        return (h.mean(dim=1) if position == "mean" else h[:, int(position)]).numpy()

    def setup(self, config: ModArithmeticConfig, strategy: str, seed: int, device: torch.device) -> Setup:
        c = config
        self.check_strategy(strategy)
        _validate(c)
        train, test = _split(c, seed)
        n_train = len(train)
        if c.eval_subset and c.eval_subset < len(test):
            test = test[: c.eval_subset]  # a fixed subset: the first ones of a random draw
        train, test = train.to(device), test.to(device)
        y_train, y_test = labels(train, c.p), labels(test, c.p)
        stride = c.stride or default_stride(c.p)

        model = ModAddTransformer(c.p, c.d_model, c.n_heads, c.n_layers, c.d_ff, c.dropout).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=c.lr, betas=(c.beta1, c.beta2),
                                      weight_decay=c.weight_decay)
        steps_per_epoch = math.ceil(n_train / c.batch_size)
        total = max(1, steps_per_epoch * c.epochs)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(c.warmup_steps, total))

        train_cpu = train.cpu()

        def order(epoch: int) -> torch.Tensor:
            return epoch_order(strategy, train_cpu, c.p, seed, epoch, stride)

        def make_batch(idx: torch.Tensor):
            return train[idx], y_train[idx]

        def batch_loss(model: nn.Module, batch):
            x, y = batch
            logits = model(x)
            return nn.functional.cross_entropy(logits, y), (logits.argmax(-1) == y).sum()

        def evaluate(model: nn.Module) -> dict[str, float]:
            total_loss, correct = torch.zeros((), device=device), torch.zeros((), device=device)
            for x, y in zip(test.split(8192), y_test.split(8192), strict=True):
                logits = model(x)
                total_loss += nn.functional.cross_entropy(logits, y, reduction="sum")
                correct += (logits.argmax(-1) == y).sum()
            n = max(1, len(test))
            return {"test_loss": total_loss.item() / n, "test_acc": correct.item() / n}  # note: sync points

        return Setup(model=model, optimizer=optimizer, scheduler=scheduler, epochs=c.epochs, train_size=n_train,
                     epoch_order=order, make_batch=make_batch, batch_size=c.batch_size,
                     batch_loss=batch_loss, evaluate=evaluate,
                     eval_every=c.eval_every, log_every=c.log_every, snapshot_every=c.snapshot_every,
                     target_metric="test_acc", target_value=c.target_acc, stop_at_target=c.stop_at_target,
                     capabilities={"embeddings": model.embed, "readout": model.readout, "p": c.p, "cyclic_tokens": True,
                                   "accuracy_metric": "test_acc", "stride": stride,
                                   "attention": [layer.self_attn for layer in model.encoder.layers],
                                   "mlp_in": model.encoder.layers[0].linear1, "probe": test[:PROBE_SIZE]},
                     order_generator=ORDER_GENERATORS[strategy], dataset=dataset_digest(train_cpu))


def _validate(c: ModArithmeticConfig) -> None:
    checks = [
        (c.p >= 2, "--p must be at least 2"),
        (0 < c.train_fraction < 1 or c.train_size > 0, "--train-fraction must be between 0 and 1"),
        (c.d_model % c.n_heads == 0, f"--d-model {c.d_model} must be divisible by --n-heads {c.n_heads}"),
        (c.batch_size >= 1 and c.epochs >= 1 and c.eval_every >= 1 and c.log_every >= 1,
         "--batch-size, --epochs, --eval-every and --log-every must be at least 1"),
        (0.0 <= c.dropout < 1.0, "--dropout must be in [0, 1)"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(f"mod_arithmetic: {message}")


EXPERIMENT = ModArithmetic()


def _split(c: ModArithmeticConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The seeded train/test split: one function for training and for `ol analyze order`."""
    n_train = c.train_size or int(round(c.train_fraction * c.p * c.p))
    n_test = c.test_size or c.p * c.p - n_train
    return split_pairs(c.p, n_train, n_test, c.data_seed if c.data_seed >= 0 else seed)

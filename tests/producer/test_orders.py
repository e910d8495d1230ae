"""Every run records its order: the ids recorded are the ids fed, across an interrupt and a resume, and
another run can be fed them (--order-from)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ol.errors import UsageError
from ol.experiments import get
from ol.producer.engine import Engine, Orders
from ol.producer.run import Run
from ol.schemas import Step
from ol.store.log.reader import LogReader
from ol.store.read.orders import digest, ids_of, pack, recorded_orders, unpack
from ol.store.read.projection import project
from tests.producer import launching
from tests.producer.interrupting import InterruptAt

TINY = {"mod_arithmetic": {"p": 23, "train_fraction": 0.5, "d_model": 32, "n_heads": 2, "d_ff": 64,
                           "batch_size": 32, "epochs": 3, "eval_every": 3, "stop_at_target": False},
        "dyck": {"train_size": 64, "val_size": 32, "max_pairs": 4, "d_model": 16, "n_heads": 2, "n_layers": 1,
                 "d_ff": 32, "batch_size": 16, "epochs": 2, "stop_at_target": False}}


def _start(store, experiment="mod_arithmetic", strategy="random", seed=0, config=None, **kw):
    return launching.start(store, experiment, {**TINY[experiment], **(config or {})}, strategy, seed, **kw)


def _losses(run_dir):
    return [(e.step, e.loss) for _, e in project(list(LogReader(run_dir / "log").events())) if isinstance(e, Step)]


@pytest.mark.parametrize("experiment", ["mod_arithmetic", "dyck"])
def test_the_recorded_order_is_what_the_model_was_fed_strategy_by_strategy(tmp_path, experiment):
    exp = get(experiment)
    for strategy in exp.strategies:
        config = exp.resolve_config(None, TINY[experiment])
        setup = exp.setup(config, strategy, 3, torch.device("cpu"))
        fed: list[torch.Tensor] = []

        def make_batch(ids, inner=setup.make_batch, fed=fed):
            fed.append(ids.cpu().clone())
            return inner(ids)

        setup = dataclasses.replace(setup, make_batch=make_batch)
        with Run.start(store=tmp_path, experiment=experiment, strategy=strategy, seed=3, handle_signals=False) as run:
            Engine(run, setup, orders=Orders(strategy, 3, full=True)).train()
        per_epoch = len(fed) // setup.epochs
        for epoch, events in sorted(recorded_orders(run.dir).items()):
            assert len(events) == 1 and events[0].start == 0 and events[0].strategy == strategy
            recorded = ids_of(events[0])
            assert recorded is not None and events[0].dataset == setup.dataset
            np.testing.assert_array_equal(recorded, torch.cat(fed[epoch * per_epoch:(epoch + 1) * per_epoch]).numpy())
            assert events[0].digest == digest(setup.epoch_order(epoch).numpy())
        assert sorted(recorded_orders(run.dir)) == list(range(setup.epochs))


def test_without_record_order_only_the_identity_is_recorded_and_it_matches(tmp_path):
    full, _ = _start(tmp_path / "a", record_order=True)
    light, _ = _start(tmp_path / "b")
    a, b = recorded_orders(full), recorded_orders(light)
    assert [e[0].digest for e in a.values()] == [e[0].digest for e in b.values()]
    assert all(e[0].width == 0 and e[0].ids == b"" and ids_of(e[0]) is None for e in b.values())
    assert a[0][0].generator.startswith("torch ") and a[0][0].seed == 0


def test_an_interrupted_epoch_records_where_the_resumed_run_continued(tmp_path):
    run_dir, status = _start(tmp_path, record_order=True, hooks=[InterruptAt(13)])
    assert status == "interrupted"  # 13 = 9 steps of epoch 0 + 4 batches of epoch 1
    _, status = launching.resume(run_dir)
    assert status == "completed"
    orders = recorded_orders(run_dir)
    assert [(e.start, e.step) for e in orders[1]] == [(0, 9), (4 * 32, 13)]
    assert (ids_of(orders[1][0]) == ids_of(orders[1][1])).all()  # the same epoch's order, continued
    assert orders[1][1].width > 0  # a run that recorded its ids goes on recording them


def test_a_run_fed_another_runs_order_records_it_and_trains_the_same_with_the_same_seed(tmp_path):
    source, _ = _start(tmp_path, "mod_arithmetic", "random", seed=0, record_order=True)
    same, _ = _start(tmp_path, "mod_arithmetic", "stride", seed=0, order_from=source)
    other, _ = _start(tmp_path, "mod_arithmetic", "stride", seed=1, config={"data_seed": 0},
                                       order_from=source)
    want = [e[0].digest for e in recorded_orders(source).values()]
    for run_dir in (same, other):
        got = recorded_orders(run_dir)
        assert [e[0].digest for e in got.values()] == want
        assert all(e[0].source == f"mod_arithmetic/{source.name}" for e in got.values())
    assert _losses(same) == _losses(source)  # the same order, seed and model: the same training
    assert _losses(other) != _losses(source)  # another initialisation


def test_order_from_is_refused_before_a_run_is_made_when_it_cannot_be_replayed(tmp_path):
    light, _ = _start(tmp_path / "s")
    with pytest.raises(UsageError, match="only the identity"):
        _start(tmp_path / "s", order_from=light)
    full, _ = _start(tmp_path / "s", record_order=True)
    with pytest.raises(UsageError, match="other data"):
        _start(tmp_path / "s", seed=1, order_from=full)  # its own split: other sample ids
    with pytest.raises(UsageError, match="no order for epoch 3"):
        _start(tmp_path / "s", config={"epochs": 5}, order_from=full)
    assert len(list((tmp_path / "s" / "mod_arithmetic").iterdir())) == 2  # nothing made by the refusals


def test_ids_pack_into_their_width_and_bad_ids_are_refused_at_the_call(tmp_path):
    ids = np.random.default_rng(0).permutation(3000)
    width, data = pack(ids)
    assert width == 12 and len(data) == 4500 and (unpack(width, data, 3000) == ids).all()
    with Run.start(store=tmp_path, experiment="own", handle_signals=False) as run:
        run.log_order(0, ids, full=True)
        for bad in ([[1, 2]], [0.5, 1.5], [-1, 2]):
            with pytest.raises(UsageError):
                run.log_order(1, bad)
        run.log({"loss": 1.0})
    orders = recorded_orders(run.dir)
    assert list(orders) == [0] and (ids_of(orders[0][0]) == ids).all()


def test_ol_events_shows_an_order_on_one_short_line(tmp_path):
    from ol.consumers.console.event_lines import event_line
    from ol.store.read.orders import order_event

    line = event_line(7, order_event(2, 40, np.arange(5000)[::-1], full=True, strategy="random", seed=1))
    assert "order" in line and "epoch=2" in line and "ids=<8,125 bytes>" in line and len(line) < 300


@pytest.mark.parametrize("forge", ["one id", "one id many times", "tiled", "out of range"])
def test_a_forged_order_is_refused_before_the_run_exists(tmp_path, forge):
    """Orders whose digests are valid but whose ids make no sense for the training set (hardening round three:
    1 id per epoch trained 2 steps instead of 30; an id out of range ended in an IndexError and a failed run)."""
    exp = get("mod_arithmetic")
    config = exp.resolve_config(None, TINY["mod_arithmetic"])
    setup = exp.setup(config, "random", 0, torch.device("cpu"))
    n = setup.train_size
    assert n == len(setup.epoch_order(0))
    ids = {"one id": [0], "one id many times": [0] * n, "tiled": list(range(n)) * 50, "out of range": [n] +
           list(range(1, n))}[forge]
    with Run.start(store=tmp_path / "s", experiment="mod_arithmetic", strategy="random", seed=0,
                   handle_signals=False) as forged:
        for epoch in range(setup.epochs):
            forged.log_order(epoch, ids, full=True, strategy="random", seed=0, dataset=setup.dataset)
    with pytest.raises(UsageError, match="cannot be replayed"):
        _start(tmp_path / "s", order_from=forged.dir)
    assert len(list((tmp_path / "s" / "mod_arithmetic").iterdir())) == 1  # nothing made by the refusal


def test_a_curriculum_whose_ids_are_drawn_says_so_and_replays(tmp_path):
    exp = get("dyck")
    pacing = next(s for s in exp.strategies if s.endswith("-pacing"))
    source, _ = _start(tmp_path / "s", "dyck", pacing, record_order=True)
    events = recorded_orders(source)
    assert events[0][0].sampled and events[0][0].count == TINY["dyck"]["train_size"]  # a pool of the easiest, repeated
    plain, _ = _start(tmp_path / "s", "dyck", "random", record_order=True)
    assert not recorded_orders(plain)[0][0].sampled
    again, _ = _start(tmp_path / "s", "dyck", pacing, order_from=source)
    assert _losses(again) == _losses(source)

"""A real transformers.Trainer on a tiny GPT-2 built from a config (no download) with OlCallback: the store
holds every loss the Trainer's own state.log_history holds, at the same steps, under the right sources;
its checkpoints are hashed events; the run says what it was for."""

from __future__ import annotations

import math

import pytest

transformers = pytest.importorskip("transformers")
import torch  # noqa: E402

from ol.consumers.analytics.sql import connect  # noqa: E402
from ol.integrations.transformers import OlCallback  # noqa: E402
from ol.store.log.verify import sha256_file, verify_run  # noqa: E402
from ol.store.read.snapshot import open_snapshot  # noqa: E402


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int):
        self.ids = torch.randint(0, 64, (n, 16), generator=torch.Generator().manual_seed(seed))

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def test_the_trainers_losses_are_in_the_store_at_their_steps(tmp_path):
    store = tmp_path / "runs"
    callback = OlCallback(store=store, experiment="gpt2-tiny", tags=["hf"])
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32,
                                                                 n_layer=1, n_head=2))
    args = transformers.TrainingArguments(
        output_dir=str(callback.run_dir / "trainer"), max_steps=12, logging_steps=2, eval_strategy="steps",
        eval_steps=4, save_steps=6, per_device_train_batch_size=4, per_device_eval_batch_size=8,
        report_to="none", use_cpu=True, metric_for_best_model="loss", seed=3, disable_tqdm=True)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Tokens(48, 1), eval_dataset=Tokens(16, 2),
                                   callbacks=[callback])
    trainer.train()

    (info,) = open_snapshot(store).runs
    assert info.status == "completed" and info.tags == ["hf"] and info.seed == 3
    assert info.config_now["learning_rate"] == args.learning_rate and info.config_now["model/n_embd"] == 32
    assert (info.contract.main_metric, info.contract.direction) == ("eval_loss", "lower")

    history = trainer.state.log_history
    expected = {(h["step"], "train", "loss", h["loss"]) for h in history if "loss" in h}
    expected |= {(h["step"], "eval", "eval_loss", h["eval_loss"]) for h in history if "eval_loss" in h}
    assert {s for _, s, _, _ in expected} == {"train", "eval"} and len(expected) == 9  # 6 train logs, 3 evaluations
    rows = connect(store).query("SELECT step, source, name, value FROM metrics WHERE name IN ('loss', 'eval_loss')"
                                ).to_pylist()
    got = {(r["step"], r["source"], r["name"]): r["value"] for r in rows}
    assert set(got) == {e[:3] for e in expected}
    assert all(math.isclose(got[e[:3]], e[3], rel_tol=1e-9) for e in expected)
    lr = connect(store).query("SELECT count(*) AS n FROM metrics WHERE name = 'learning_rate' AND source = 'train'"
                              ).to_pylist()
    assert lr == [{"n": 6}]
    closing = next(h for h in history if "train_runtime" in h)
    assert info.folded and info.summary["train_loss"] == closing["train_loss"]

    saved = connect(store).query("SELECT step, path, sha256 FROM checkpoints ORDER BY step").to_pylist()
    assert [c["step"] for c in saved] == [6, 12]
    for c in saved:
        assert sha256_file(info.dir / c["path"]) == c["sha256"]
    assert verify_run(info.dir).ok


def test_a_checkpoint_outside_the_run_is_named_in_a_note(tmp_path):
    store = tmp_path / "runs"
    callback = OlCallback(store=store, experiment="gpt2-tiny", run_id="outside")
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=16,
                                                                 n_layer=1, n_head=2))
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "elsewhere"), max_steps=2, save_steps=2,
                                          report_to="none", use_cpu=True, disable_tqdm=True)
    transformers.Trainer(model=model, args=args, train_dataset=Tokens(8, 1), callbacks=[callback]).train()
    notes = connect(store).query("SELECT message FROM notes").to_pylist()
    assert any(str(tmp_path / "elsewhere" / "checkpoint-2") in n["message"] for n in notes)
    assert connect(store).query("SELECT count(*) AS n FROM checkpoints").to_pylist() == [{"n": 0}]


def test_a_train_after_a_failed_one_records_the_failure_and_continues_the_run(tmp_path):
    """Hardening round three: a failed train() was merged into the next one (one run, completed, steps twice,
    the failure recorded nowhere)."""
    from ol.schemas import RunEnded, RunResumed
    from ol.store.log.reader import read_events

    class Flaky(Tokens):
        failing = True

        def __getitem__(self, i):
            if Flaky.failing and i == 5:
                raise RuntimeError("a corrupt example")
            return super().__getitem__(i)

    store = tmp_path / "runs"
    callback = OlCallback(store=store, experiment="gpt2-tiny")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32,
                                                                 n_layer=1, n_head=2))
    args = transformers.TrainingArguments(output_dir=str(callback.run_dir / "trainer"), max_steps=6, logging_steps=1,
                                          per_device_train_batch_size=4, report_to="none", use_cpu=True,
                                          save_strategy="no", disable_tqdm=True)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Flaky(48, 1), callbacks=[callback])
    with pytest.raises(RuntimeError, match="corrupt"):
        trainer.train()
    Flaky.failing = False
    trainer.train()

    events = [e for _, e in read_events(callback.run_dir / "log")]
    ended = [e for e in events if isinstance(e, RunEnded)]
    assert [e.status for e in ended] == ["failed", "completed"] and "raised" in ended[0].error
    assert [e.step for e in events if isinstance(e, RunResumed)] == [0]
    (info,) = open_snapshot(store).runs
    assert info.status == "completed" and info.last_step == 6
    steps = connect(store).query("SELECT step FROM metrics WHERE name = 'loss' ORDER BY step").to_pylist()
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]  # the second attempt's, each once


def test_a_trainer_runs_epochs_are_fractional_on_its_curves_and_whole_in_its_epoch_records(tmp_path):
    """Issue 38: the Trainer counts epochs in fractions (0.167, 0.333 …): its curves over epochs have them
    (the dashboard's /api/series, SQL), and each epoch's end is an epoch record with its evaluation."""
    from starlette.testclient import TestClient

    from ol.consumers.ui.app import create_app

    store = tmp_path / "runs"
    callback = OlCallback(store=store, experiment="gpt2-tiny", run_id="frac")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32,
                                                                 n_layer=1, n_head=2))
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=3, logging_steps=2, eval_strategy="epoch",
        save_strategy="no", per_device_train_batch_size=8, per_device_eval_batch_size=8, report_to="none",
        use_cpu=True, seed=3, disable_tqdm=True)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Tokens(48, 1), eval_dataset=Tokens(16, 2),
                                   callbacks=[callback])
    trainer.train()
    history = trainer.state.log_history
    logged = [(h["epoch"], h["loss"]) for h in history if "loss" in h]
    assert any(not float(e).is_integer() for e, _ in logged)  # the Trainer's own fractions

    with TestClient(create_app(store), base_url="http://127.0.0.1") as client:
        body = client.get("/api/series", params={"runs": "gpt2-tiny/frac", "metric": "train/loss", "x": "epoch"}).json()
    curve = body["runs"]["gpt2-tiny/frac"]
    assert curve["x"] == pytest.approx([e for e, _ in logged]) and curve["y"] == pytest.approx([v for _, v in logged])
    rows = connect(store).query("SELECT epoch, value FROM metrics WHERE name = 'loss' ORDER BY step").to_pylist()
    assert [r["epoch"] for r in rows] == pytest.approx([e for e, _ in logged])

    evaluated = [h["eval_loss"] for h in history if "eval_loss" in h]
    epochs = connect(store).query("SELECT epoch, eval_loss FROM epochs ORDER BY epoch").to_pylist()
    assert [e["epoch"] for e in epochs] == [0, 1, 2] and len(evaluated) == 3
    assert [e["eval_loss"] for e in epochs] == pytest.approx(evaluated)
    counted = connect(store).query("SELECT count(*) AS n FROM metrics WHERE name = 'eval_loss'").to_pylist()
    assert counted == [{"n": 3}]

"""The console's fold (events → state → lines), apart from rendering; and what the progress bar ends at."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from rich.console import Console

from ol.consumers.console.fold import ConsoleState, epoch_progress, fold, fold_report, trend
from ol.consumers.console.view import _curve_panel, _scrolling, _sidebar, follow_console
from ol.schemas import Epoch, HookMetrics, Note, RunContract, RunEnded, RunResumed, RunStarted, Scalars, Step
from ol.store.log.format import FRAME_HEADER_SIZE
from ol.store.log.reader import Damage, LogReader, Lost, ReadReport

sys.path.insert(0, str(Path(__file__).parents[1]))
import damage  # noqa: E402


def started(total=2000):
    return RunStarted(run_id="r1", experiment="exp", strategy="stride", seed=3,
                      contract=RunContract(main_metric="test_acc", direction="higher", total_epochs=total))


def test_an_epoch_is_its_number_from_0_with_the_count_done_beside_it():
    state = ConsoleState()
    assert fold(state, started()) == ["[bold]exp[/] · stride · seed 3 · run r1"]
    assert (state.total_epochs, state.epoch) == (2000, None) and epoch_progress(state) == "epoch -"
    assert fold(state, Step(step=3, epoch=0, loss=2.5)) == []  # steps print nothing
    (line,) = fold(state, Epoch(epoch=209, step=3150, time=52.5, metrics={"test_acc": 0.9965, "train_loss": 0.01}))
    assert line.startswith("epoch   209 (210 of 2000 done)")
    assert "test_acc 0.9965" in line and "train_loss 0.0100" in line
    assert state.epoch == 209 and epoch_progress(state) == "epoch 209 (210 of 2000 done)"
    # the engine's note names the same number the line does
    assert fold(state, Note("target reached: test_acc 0.9965 ≥ 0.995 at epoch 209")) == \
        ["[green]info:[/] target reached: test_acc 0.9965 ≥ 0.995 at epoch 209"]
    assert fold(state, RunEnded("completed", wall_time=53.0)) == ["[green]run completed[/] after 53.0 s"]
    assert state.status == "completed" and state.metrics["loss"] == 2.5


def test_an_epoch_without_the_main_eval_metric_prints_no_line_but_moves_the_state():
    state = ConsoleState()
    fold(state, started(total=None))
    assert fold(state, Epoch(epoch=0, step=10, metrics={"train_loss": 1.0})) == []
    assert state.epoch == 0 and state.metrics["train_loss"] == 1.0 and epoch_progress(state) == "epoch 0 (1 done)"


def test_the_bar_of_a_run_that_stopped_at_its_target_ends_full():
    """Planned 2000 epochs, stopped at its target after 210: the bar says 210/210, not 210/2000."""
    out = io.StringIO()
    events = [started(), *[Epoch(epoch=e, step=e, metrics={"test_acc": e / 210}) for e in range(210)],
              RunEnded("completed", wall_time=1.0)]
    _scrolling(enumerate(events), ReadReport(), ConsoleState(), Console(file=out, width=160), print_lines=False)
    assert "210/210" in out.getvalue() and "/2000" not in out.getvalue()

    out = io.StringIO()  # interrupted at 210: the bar says how far it got of what was planned
    _scrolling(enumerate(events[:-1] + [RunEnded("interrupted")]), ReadReport(), ConsoleState(),
               Console(file=out, width=160), print_lines=False)
    assert "210/2000" in out.getvalue()


def _text(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=100).print(renderable)
    return out.getvalue()


def test_a_run_whose_main_metric_is_a_loss_gets_its_own_lines_curve_and_sidebar():
    """Nothing in the console knows an experiment's metric names: a language model declaring val_loss
    (lower is better) and display metrics gets lines at its evaluations, a val_loss curve and its sidebar."""
    state = ConsoleState()
    fold(state, RunStarted(run_id="lm1", experiment="lm", contract=RunContract(
        main_metric="val_loss", direction="lower", total_epochs=3, display=["val_loss", "train_loss", "lr"])))
    assert fold(state, Epoch(epoch=0, step=9, metrics={"train_loss": 3.0})) == []  # not evaluated: no line
    (line,) = fold(state, Epoch(epoch=1, step=19, metrics={"train_loss": 2.0, "val_loss": 2.5, "val_ppl": 12.2},
                               eval=["val_loss", "val_ppl"]))
    assert line.index("val_loss 2.5000") < line.index("train_loss 2.0000") < line.index("val_ppl 12.2000")
    fold(state, Epoch(epoch=2, step=29, metrics={"train_loss": 1.0, "val_loss": 1.5}, eval=["val_loss"]))
    assert state.curve == [(1, 2.5), (2, 1.5)]
    curve = _text(_curve_panel(state))
    assert "val_loss" in curve and "1.5 to 2.5, lower is better" in curve and "test" not in curve
    sidebar = _text(_sidebar(state, None))
    assert sidebar.index("val_loss") < sidebar.index("train_loss") and "1.5" in sidebar


def test_a_run_that_named_no_main_metric_prints_every_epoch_and_says_it_has_no_curve():
    state = ConsoleState()
    fold(state, RunStarted(run_id="own", experiment="mine"))
    (line,) = fold(state, Epoch(epoch=0, step=4, metrics={"loss": 0.5}))
    assert "loss 0.5000" in line
    assert "this run named no main metric" in _text(_curve_panel(state))


def test_scalars_from_another_source_show_under_their_source():
    state = ConsoleState()
    fold(state, RunStarted(run_id="own", experiment="mine"))
    fold(state, Step(step=5, loss=1.0))
    assert fold(state, Scalars(source="eval", step=5, values={"loss": 2.0})) == []
    assert state.metrics["loss"] == 1.0 and state.metrics["eval/loss"] == 2.0


def test_trends_compare_an_epoch_metric_with_its_previous_value():
    state = ConsoleState()
    fold(state, started())
    fold(state, Epoch(epoch=0, step=1, metrics={"test_acc": 0.5}))
    assert trend(state, "test_acc") == " "  # nothing to compare with yet
    fold(state, Epoch(epoch=1, step=2, metrics={"test_acc": 0.7}))
    fold(state, HookMetrics(hook="norms", point="post_epoch", step=2, epoch=1, metrics={"total": 3.0}))
    assert (trend(state, "test_acc"), trend(state, "norms/total")) == ("↑", " ")  # one rose, one has no history
    fold(state, Epoch(epoch=2, step=3, metrics={"test_acc": 0.6}))
    assert trend(state, "test_acc") == "↓"
    assert state.metrics["norms/total"] == 3.0 and [v for _, v in state.curve] == [0.5, 0.7, 0.6]


def test_a_resumed_run_folds_on_from_where_it_resumed():
    state = ConsoleState()
    fold(state, started())
    fold(state, RunEnded("interrupted", wall_time=2.0))
    lines = fold(state, RunResumed(step=40, epoch=3, checkpoint="checkpoints/step-40.pt"))
    assert state.status == "running" and any("resumed" in line for line in lines)


def test_each_problem_the_reader_reports_is_said_once():
    state, report = ConsoleState(), ReadReport()
    assert fold_report(state, report) == []
    report.lost.append(Lost(11, 20, segment=0, offset=400, reason="payload fails its CRC"))
    report.damaged.append(Damage(0, 400, "payload fails its CRC"))
    first = fold_report(state, report)
    assert len(first) == 2 and "events 11..20 lost" in first[0] and first[0].startswith("[yellow]warning:")
    assert fold_report(state, report) == []  # the same report again: nothing new to say
    report.invalid.append("event 3 (step): Expected `int`")
    (new,) = fold_report(state, report)
    assert "invalid event skipped" in new and len(state.problems) == 3


def test_the_console_says_which_events_a_damaged_log_lost(tmp_path):
    """A byte flipped inside a frame's payload: `ol tail` (and the training console) names the events it
    could not show, and still follows the run to its end."""
    run_dir = damage.healthy_run(tmp_path, "r1")
    frames = list(LogReader(run_dir / "log").frames())
    victim = frames[2]
    segment = sorted((run_dir / "log").glob("*.olog"))[victim.segment]
    data = bytearray(segment.read_bytes())
    data[victim.offset + FRAME_HEADER_SIZE + 3] ^= 0xFF
    segment.write_bytes(bytes(data))
    out = io.StringIO()
    state = follow_console(run_dir, "silent", console=Console(file=out, width=200))
    lost = f"events {victim.first_seq}..{victim.first_seq + victim.count - 1} lost"
    assert lost in out.getvalue() and any(lost in p for p in state.problems)
    assert state.status == "completed"

"""Known answers for the statistics every comparison across seeds shows (store/read/intervals.py): a bootstrap
interval covers at about its stated rate, the permutation test's p-value is what exact enumeration gives on
small samples, the binomial interval is the textbook's, the probability of improvement counts pairs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ol.store.read import intervals


def test_a_95_percent_bootstrap_interval_of_a_mean_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    covered = []
    for _ in range(300):
        e = intervals.estimate(list(rng.normal(loc=3.0, scale=2.0, size=25)))
        covered.append(e.low <= 3.0 <= e.high)
    # the percentile bootstrap runs a little narrow at n = 25 (about 93 %); 300 repetitions give ±2.5 %
    assert 0.89 <= np.mean(covered) <= 0.98, np.mean(covered)


def test_the_permutation_p_value_is_exact_enumeration_on_small_samples():
    a, b = [1.0, 2.5, 3.0], [2.0, 4.0, 5.0, 6.5]
    pooled, observed = np.array(a + b), np.mean(a) - np.mean(b)
    diffs = []
    for chosen in itertools.combinations(range(len(pooled)), len(a)):  # all 35 relabellings
        mask = np.zeros(len(pooled), bool)
        mask[list(chosen)] = True
        diffs.append(pooled[mask].mean() - pooled[~mask].mean())
    diffs = np.array(diffs)
    below, above = np.mean(diffs <= observed + 1e-12), np.mean(diffs >= observed - 1e-12)
    assert intervals.permutation_p(a, b) == pytest.approx(min(1.0, 2 * min(below, above)))
    assert intervals.permutation_p([1.0], b) is None  # one value a side tests nothing


@pytest.mark.parametrize(("k", "n", "low", "high"), [(0, 10, 0.0, 0.3085), (5, 10, 0.1871, 0.8129),
                                                     (10, 10, 0.6915, 1.0), (1, 20, 0.0013, 0.2487)])
def test_the_binomial_interval_is_the_clopper_pearson_tables(k, n, low, high):
    found = intervals.reached(k, n)
    assert found == pytest.approx((low, high), abs=1e-4)
    assert intervals.reached(0, 0) is None


def test_the_probability_of_improvement_counts_every_pair_ties_half():
    assert intervals.improvement([1.0, 2.0], [1.0, 0.0]) == 0.875
    assert intervals.improvement([5.0], [1.0, 2.0, 3.0]) == 1.0
    assert intervals.improvement([], [1.0]) is None


def test_one_value_has_no_interval_and_equal_values_a_point_one():
    assert intervals.estimate([0.9]) == intervals.Estimate(0.9, None, None, 1)
    assert intervals.estimate([0.5, 0.5, 0.5]) == intervals.Estimate(0.5, 0.5, 0.5, 3)
    assert intervals.estimate([]) is None
    iqm = intervals.estimate([0.0, 1.0, 2.0, 3.0, 100.0], "iqm")  # the middle half: 1, 2, 3 (trimmed 25 % a side)
    assert iqm.value == pytest.approx(2.0) and iqm.low <= 2.0 <= iqm.high


def _lower_loss(best: float, target_epoch: int | None = None):
    """A sweep point's completed run record: its main metric eval/loss (lower is better), its best and the epoch
    it reached its target."""
    from ol.schemas import RunContract
    from ol.store.read.record import RunInfo

    return RunInfo(status="completed", contract=RunContract(main_metric="loss", direction="lower"), best=best,
                   summaries={"eval/loss": {"count": 1}}, target_epoch=target_epoch)


def test_a_sweeps_comparison_states_intervals_and_pits_strategies_against_each_other():
    """What `ol sweep --status` and the dashboard's sweep page show: per strategy the mean best with its
    bootstrap interval, k of n reached with its exact interval; per two strategies of a setting P(A better
    than B) in the metric's direction (lower is better here) and the permutation p-value."""
    from ol.store.read.sweep_plans import Point
    from ol.store.read.sweep_status import compare, contrasts

    losses = {"stride": [0.10, 0.12, 0.11, 0.09], "random": [0.30, 0.25, 0.35, 0.28]}
    points = [Point(s, seed) for s in losses for seed in range(4)]
    results = {p: _lower_loss(losses[p.strategy][p.seed], 1 if p.strategy == "stride" else None) for p in points}
    rows = {r["strategy"]: r for r in compare(points, results)}
    value, low, high = rows["stride"]["main_best"]
    assert value == pytest.approx(0.105) and 0.09 <= low < value < high <= 0.12
    assert (rows["stride"]["reached"], rows["random"]["reached"]) == (4, 0)
    assert rows["stride"]["reached_ci"] == pytest.approx([0.3976, 1.0], abs=1e-4)  # 4 of 4, Clopper–Pearson
    (pair,) = contrasts(points, results)
    assert (pair["a"], pair["b"]) == ("stride", "random") and pair["p_better"] == 1.0  # every stride run is lower
    assert pair["p_value"] == pytest.approx(2 / 70)  # exact: 8 choose 4 relabellings, the two extremes


def test_the_same_answers_as_scipy_stats():
    """The NumPy resampling gives what scipy.stats' bootstrap and permutation test give (their random streams
    differ: within Monte Carlo error), and the beta quantiles what its binomial test's interval gives."""
    from scipy import stats

    rng = np.random.default_rng(3)
    x, y = rng.normal(0.0, 1.0, 12), rng.normal(0.8, 1.0, 15)
    ours = intervals.estimate(list(x))
    theirs = stats.bootstrap((x,), np.mean, n_resamples=10_000, method="percentile",
                             random_state=np.random.default_rng(1)).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=0.05) and ours.high == pytest.approx(theirs.high, abs=0.05)
    scipy_p = stats.permutation_test((x, y), lambda a, b: np.mean(a) - np.mean(b), n_resamples=10_000,
                                     random_state=np.random.default_rng(1)).pvalue
    assert intervals.permutation_p(list(x), list(y)) == pytest.approx(scipy_p, abs=0.01)
    pairs = [(3, 17), (0, 4), (9, 9), (1, 5000), (4999, 5000), (500, 1000)]
    pairs += [(int(rng.integers(0, n + 1)), int(n)) for n in rng.integers(1, 300, size=200)]
    for k, n in pairs:  # the interval's definition solved by bisection: the beta quantiles scipy.stats gives
        ci = stats.binomtest(k, n).proportion_ci(method="exact")
        assert intervals.reached(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9), (k, n)


def test_a_curves_band_is_each_columns_bootstrap_interval_and_skips_runs_without_a_value():
    rng = np.random.default_rng(11)
    values = rng.normal(size=(30, 3))
    values[:10, 2] = np.nan  # ten runs ended before the last column
    low, high = intervals.band(values)
    for col in range(3):
        e = intervals.estimate(list(values[~np.isnan(values[:, col]), col]))
        assert low[col] == pytest.approx(e.low, abs=0.08) and high[col] == pytest.approx(e.high, abs=0.08)


def test_a_setting_can_be_summarised_by_its_iqm_which_one_wild_seed_does_not_drag():
    """Agarwal et al.'s interquartile mean, selectable where the mean is shown: of 0.10, 0.11, 0.12 and a wild
    0.90 the IQM is the middle half's mean, 0.115 (the mean, 0.3075, is dragged by the one seed)."""
    from ol.store.read.sweep_plans import Point
    from ol.store.read.sweep_status import compare

    losses = [0.10, 0.12, 0.11, 0.90]
    points = [Point("stride", seed) for seed in range(4)]
    results = {p: _lower_loss(losses[p.seed]) for p in points}
    (iqm,) = compare(points, results, "iqm")
    (mean,) = compare(points, results)
    assert iqm["main_best"][0] == pytest.approx(0.115) and mean["main_best"][0] == pytest.approx(0.3075)
    assert iqm["main_best"][1] <= 0.115 <= iqm["main_best"][2]
    assert "interquartile mean (IQM)" in intervals.method_of("iqm") and "of the mean" in intervals.METHOD

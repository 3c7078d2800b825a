"""Which cases a scenario runs: flowyml against the baselines (and peers) on the same shapes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ._harness import Case
from ._shapes import Shape

__all__ = ("SCENARIOS", "Options", "comparison_cases", "peer_cases")

#: Scenario letter -> module.  (e) is inside (a)-(c): each runs flowyml with persistence
#: off and with the default persistence.
SCENARIOS: dict[str, str] = {
    "a": "bench_chain",
    "b": "bench_fanout",
    "c": "bench_sleep",
    "d": "bench_cache",
    "f": "bench_scaling",
    "g": "bench_startup",
}


@dataclass(slots=True)
class Options:
    """What the user asked for on the command line.

    :param quick: small N and one repetition (the CI smoke run)
    :param reps: repetitions per case (each in a fresh process)
    :param peers: peer name -> ``None`` (usable) or why it is skipped; empty: no peers
    """

    quick: bool = False
    reps: int = 5
    peers: dict[str, str | None] = field(default_factory=dict)

    @property
    def verdict_reps(self) -> int:
        """Repetitions of the cases whose figures decide a target with a thin margin: the
        sleeping steps of (c), an absolute limit 3-10% above the figure, and the
        scaling runs of (f), a ratio of 3 s runs to 0.25 s runs.  ``2 * reps - 1`` (9 by
        default): on this shared machine one process's speed varies by up to 30% for the
        same work, so a median of 5 moved those verdicts from run to run."""
        return 2 * self.reps - 1


def comparison_cases(
    scenario: str, shapes: list[Shape], opts: Options, *, reps: int | None = None
) -> list[Case]:
    """Baseline, baseline + SQLite, flowyml persistence off and on, for each shape
    (``reps`` of each; default: the run's)."""
    cases: list[Case] = []
    timeout = 120.0 if opts.quick else 900.0
    for shape in shapes:
        cases += [
            Case(scenario, "baseline", "run", shape, reps=reps, timeout_s=timeout),
            Case(scenario, "baseline_sqlite", "run", shape, reps=reps, timeout_s=timeout),
            Case(scenario, "flowyml", "run", shape, persist=False, reps=reps, timeout_s=timeout),
            Case(scenario, "flowyml", "run", shape, persist=True, reps=reps, timeout_s=timeout),
        ]
    return cases + peer_cases(scenario, "run", shapes, opts)


def peer_cases(
    scenario: str, mode: str, shapes: Sequence[Shape | None], opts: Options
) -> list[Case]:
    """Each requested peer on each shape (capped), once per distinct capped shape."""
    if not opts.peers:
        return []
    from .peers import PEERS, peer_case

    cases: dict[str, Case] = {}
    for peer in PEERS:
        if peer.name not in opts.peers:
            continue
        for shape in shapes:
            case = peer_case(peer, scenario, mode, shape, opts.peers[peer.name])
            case.reps = min(opts.reps, 3)
            cases.setdefault(case.id, case)
    return list(cases.values())

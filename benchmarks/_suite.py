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


def comparison_cases(scenario: str, shapes: list[Shape], opts: Options) -> list[Case]:
    """Baseline, baseline + SQLite, flowyml persistence off and on, for each shape."""
    cases: list[Case] = []
    timeout = 120.0 if opts.quick else 900.0
    for shape in shapes:
        cases += [
            Case(scenario, "baseline", "run", shape, timeout_s=timeout),
            Case(scenario, "baseline_sqlite", "run", shape, timeout_s=timeout),
            Case(scenario, "flowyml", "run", shape, persist=False, timeout_s=timeout),
            Case(scenario, "flowyml", "run", shape, persist=True, timeout_s=timeout),
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

"""Run cases, each repetition in a fresh child process with a fresh temporary home."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._protocol import parse
from ._shapes import Shape

__all__ = ("ROOT", "Case", "child_env", "run_case", "run_cases")

ROOT = Path(__file__).resolve().parent.parent

#: Variables that would make a child measure something else (coverage tracing, stores).
_DROP = ("COV_CORE", "COVERAGE_", "FLOWYML_", "PREFECT_", "PYTHONPATH")


def child_env(tmp: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: ours minus coverage/store settings, homes in ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env.update(
        BENCH_TMP=tmp,
        FLOWYML_HOME=os.path.join(tmp, "flowyml-home"),
        HOME=os.path.join(tmp, "home"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
    )
    os.makedirs(env["HOME"], exist_ok=True)
    env.update(extra or {})
    return env


@dataclass(slots=True)
class Case:
    """One measurement: a system running a shape in a mode, repeated in fresh processes.

    :param scenario: the issue's letter (``a``..``g``)
    :param system: ``flowyml``, ``baseline``, ``baseline_sqlite`` or a peer's name
    :param mode: ``run``, ``cache``, ``memory``, ``import`` or ``cold``
    :param persist: ``True``/``False`` for flowyml; ``None`` where it does not apply
    :param argv: the child's command line before the JSON spec (default: our child)
    :param budget_s: stop repeating once this much time went into the case (>= 1 rep)
    :param note: shown next to the figures (e.g. a peer's cap on N)
    """

    scenario: str
    system: str
    mode: str
    shape: Shape | None = None
    persist: bool | None = None
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    reps: int | None = None
    timeout_s: float = 900.0
    budget_s: float = 240.0
    note: str = ""
    skipped: str | None = None

    @property
    def id(self) -> str:
        """Stable identifier, e.g. ``a/chain-200/flowyml/persist-off/run``."""
        parts = [self.scenario, self.shape.label if self.shape else "startup", self.system]
        if self.persist is not None:
            parts.append("persist-on" if self.persist else "persist-off")
        parts.append(self.mode)
        return "/".join(parts)

    def spec(self) -> dict[str, Any]:
        """The JSON spec handed to the child."""
        return {
            "system": self.system,
            "mode": self.mode,
            "shape": self.shape.to_dict() if self.shape else None,
            "persist": self.persist,
        }

    def command(self) -> list[str]:
        """Full child command line."""
        argv = self.argv or [sys.executable, "-m", "benchmarks._child"]
        return [*argv, json.dumps(self.spec())]


def _one(case: Case) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="flowyml-bench-")
    try:
        env = child_env(tmp, case.env)
        if not case.argv:  # our own child imports the benchmarks package from the repo
            env["PYTHONPATH"] = str(ROOT)
        try:
            proc = subprocess.run(
                case.command(),
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=case.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {case.timeout_s:g} s"}
        result = parse(proc.stdout)
        if result is None:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {"error": f"child exited {proc.returncode} without a result: {' | '.join(tail)}"}
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _summary(case: Case, runs: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": case.id,
        "scenario": case.scenario,
        "system": case.system,
        "mode": case.mode,
        "shape": case.shape.to_dict() if case.shape else None,
        "label": case.shape.label if case.shape else "startup",
        "steps": case.shape.steps if case.shape else None,
        "persist": case.persist,
        "note": case.note,
        "reps": len(runs),
        "elapsed_s": round(elapsed, 2),
    }
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        skipped = errors[0].startswith("skipped: ")
        out.update(
            status="skipped" if skipped else "error",
            error=errors[0].removeprefix("skipped: "),
        )
        return out
    numeric = sorted({k for r in runs for k, v in r.items() if isinstance(v, int | float)})
    out["median"] = {k: statistics.median(r[k] for r in runs if k in r) for k in numeric}
    out["all"] = {k: [r[k] for r in runs if k in r] for k in numeric}
    out["status"] = "ok"
    if case.shape is not None and "wall_s" in out["median"]:
        out["median"]["ms_per_step"] = out["median"]["wall_s"] / case.shape.steps * 1e3
    if case.shape is not None and "traced_peak_kb" in out["median"]:
        out["median"]["kb_per_step"] = out["median"]["traced_peak_kb"] / case.shape.steps
    extras = {k: v for r in runs for k, v in r.items() if isinstance(v, str)}
    if extras:
        out["info"] = extras
    return out


def _skipped(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "scenario": case.scenario,
        "system": case.system,
        "mode": case.mode,
        "label": case.shape.label if case.shape else "startup",
        "shape": case.shape.to_dict() if case.shape else None,
        "steps": case.shape.steps if case.shape else None,
        "persist": case.persist,
        "note": case.note,
        "status": "skipped",
        "error": case.skipped,
        "reps": 0,
    }


def run_cases(cases: list[Case], reps: int, *, log: Any = None) -> list[dict[str, Any]]:
    """Run ``cases`` round-robin: repetition 1 of each, then repetition 2 of each, ...

    Interleaving means a burst of load on a shared machine hits flowyml and its baseline
    alike, which keeps their ratio honest.  A case stops repeating after an error or once
    its time budget is spent (it keeps at least one repetition); one failing case never
    stops the others.
    """
    from ._protocol import now

    runs: list[list[dict[str, Any]]] = [[] for _ in cases]
    spent = [0.0] * len(cases)
    done = [bool(c.skipped) for c in cases]
    summaries: list[dict[str, Any] | None] = [_skipped(c) if c.skipped else None for c in cases]
    most = max([c.reps if c.reps is not None else reps for c in cases] + [1])
    for _ in range(most):
        for i, case in enumerate(cases):
            if done[i]:
                continue
            t0 = now()
            result = _one(case)
            spent[i] += now() - t0
            runs[i].append(result)
            want = case.reps if case.reps is not None else reps
            if "error" in result or spent[i] > case.budget_s or len(runs[i]) >= max(1, want):
                done[i] = True
                summaries[i] = _summary(case, runs[i], spent[i])
                if log is not None:
                    log(summaries[i])
    return [s for s in summaries if s is not None]


def run_case(case: Case, reps: int, *, log: Any = None) -> dict[str, Any]:
    """Run one case up to ``reps`` times and summarise it."""
    return run_cases([case], reps, log=log)[0]

"""Command line: ``python -m benchmarks [--quick] [--peers] [--only a,c] [--reps N] [--out DIR]``."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from ._harness import ROOT, Case, run_cases
from ._suite import SCENARIOS, Options

__all__ = ("main",)

RESULTS = Path(__file__).resolve().parent / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_PLOTS = ROOT / "docs" / "benchmarks"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="flowyml benchmarks: each case in fresh processes, medians, ratios to an "
        "anyio baseline measured in the same run.",
    )
    p.add_argument("--quick", action="store_true", help="small N, 1 repetition (CI smoke run)")
    p.add_argument("--reps", type=int, default=None, help="repetitions per case (default 5)")
    p.add_argument(
        "--peers",
        action="store_true",
        help="also run Prefect 3, Hamilton and flowyml 2.2.1 (virtualenvs are "
        "created in benchmarks/.venvs with uv on first use)",
    )
    p.add_argument("--only", default="", help="scenario letters to run, e.g. 'a,c' (default all)")
    p.add_argument(
        "--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)"
    )
    p.add_argument(
        "--no-docs",
        action="store_true",
        help="do not refresh docs/benchmarks.md (a full, non-quick run does)",
    )
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument(
        "--report-from",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="re-render the tables, plots (and docs) of results files without running; "
        "several are merged into the first (cases of later files win)",
    )
    return p


def _line(summary: dict[str, Any]) -> None:
    med = summary.get("median", {})
    if summary["status"] != "ok":
        figure = f"{summary['status']}: {summary.get('error', '')}"[:200]
    elif "ms_per_step" in med:
        figure = f"{med['wall_s']:.4f} s  {med['ms_per_step']:.4f} ms/step"
        if "kb_per_step" in med:
            figure += f"  {med['kb_per_step']:.2f} KB/step"
    else:
        figure = "  ".join(f"{k}={v:.4f}" for k, v in med.items() if k.endswith("_s"))
    print(f"  {summary['id']:<58} x{summary.get('reps', 0)}  {figure}", file=sys.stderr, flush=True)


def _peers(opts: Options, create: bool) -> dict[str, str | None]:
    from .peers import PEERS, ensure_venv, peer_version

    status = {
        p.name: ensure_venv(p, create=create, log=lambda m: print(m, file=sys.stderr))
        for p in PEERS
    }
    opts.peers = status
    return {p.name: peer_version(p) if status[p.name] is None else None for p in PEERS}


def _write_reports(record: dict[str, Any], json_path: Path, *, refresh_docs: bool) -> None:
    """Markdown next to ``json_path``, plots, and (for a full run) the docs page."""
    from ._plots import make_plots
    from ._report import markdown, update_docs

    opts = record["options"]
    refresh_docs = refresh_docs and not opts["quick"] and opts["scenarios"] == list(SCENARIOS)
    out, stem = json_path.parent, json_path.stem
    # A docs refresh draws the plots straight into docs/benchmarks/ (no second copy).
    plot_dir = DOCS_PLOTS if refresh_docs else out / "plots"
    plots = make_plots(record, plot_dir, prefix="" if refresh_docs else f"{stem}-")
    titles = {
        x: importlib.import_module(f".{SCENARIOS[x]}", __package__).TITLE for x in opts["scenarios"]
    }
    table = markdown(record, [os.path.relpath(p, out) for p in plots], titles)
    (out / f"{stem}.md").write_text(table, encoding="utf-8")
    if refresh_docs:
        links = [os.path.relpath(p, DOCS.parent) for p in plots]
        if update_docs(DOCS, markdown(record, links, titles)):
            print(f"refreshed {DOCS.relative_to(ROOT)}", file=sys.stderr)
    print(table)
    print(f"wrote {out / stem}.json and .md", file=sys.stderr)


def _report_from(paths: list[Path], refresh_docs: bool) -> int:
    """Re-render saved results; several files are merged into the first (later ones win).

    Ratios are computed within each file first, so every ratio still divides by a baseline
    measured in the same run as the figure.
    """
    from ._report import attach_ratios, evaluate_targets

    records = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    for r in records:
        for c in r["cases"]:
            c.setdefault("run", r["machine"]["date"])  # ratios never mix runs
        attach_ratios(r["cases"])
    record = records[-1] if len(records) == 1 else _merge(records, paths)
    record["targets"] = evaluate_targets(record["cases"])
    paths[0].write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    _write_reports(record, paths[0], refresh_docs=refresh_docs)
    return 0


def _merge(records: list[dict[str, Any]], paths: list[Path]) -> dict[str, Any]:
    cases: dict[str, dict[str, Any]] = {}
    for r in records:
        cases.update({c["id"]: c for c in r["cases"]})
    order = {x: i for i, x in enumerate(SCENARIOS)}
    merged = dict(records[-1])
    merged["cases"] = sorted(cases.values(), key=lambda c: order.get(c["scenario"], 99))
    scenarios = {x for r in records for x in r["options"]["scenarios"]}
    merged["options"] = {
        **records[-1]["options"],
        "scenarios": [x for x in SCENARIOS if x in scenarios],
        "quick": any(r["options"]["quick"] for r in records),
        "peers": any(r["options"]["peers"] for r in records),
        "merged_from": [p.name for p in paths],
    }
    merged["peers_note"] = next((r["peers_note"] for r in records if not r["peers_note"]), None)
    if merged["peers_note"] is None and not merged["options"]["peers"]:
        merged["peers_note"] = "Peers: not run (add `--peers`)."
    return merged


def _same_shape(case: Case) -> str:
    return case.shape.label if case.shape else case.mode


def main(argv: list[str] | None = None, *, only: str | None = None) -> int:
    """Run the selected scenarios; write JSON, markdown and plots; return an exit code."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.report_from is not None:
        return _report_from(args.report_from, refresh_docs=not args.no_docs)
    letters = [x.strip() for x in (only or args.only).split(",") if x.strip()] or list(SCENARIOS)
    unknown = [x for x in letters if x not in SCENARIOS]
    if unknown:
        print(
            f"unknown scenario(s) {unknown}; choose from {sorted(SCENARIOS)} ((e) is part of a-c)",
            file=sys.stderr,
        )
        return 2
    reps = args.reps if args.reps is not None else (1 if args.quick else 5)
    opts = Options(quick=args.quick, reps=reps)
    peer_versions = _peers(opts, create=not args.list) if args.peers else {}
    modules = {x: importlib.import_module(f".{SCENARIOS[x]}", __package__) for x in letters}
    plan: list[tuple[str, Case]] = [(x, c) for x, m in modules.items() for c in m.cases(opts)]
    if args.list:
        for _, case in plan:
            print(case.id + (f"  ({case.note})" if case.note else ""))
        return 0

    from ._report import attach_ratios, evaluate_targets, machine_info

    print(f"{len(plan)} cases, {reps} repetition(s) each", file=sys.stderr)
    summaries = []
    for letter in letters:
        print(f"({letter}) {modules[letter].TITLE}", file=sys.stderr)
        mine = [c for x, c in plan if x == letter]
        # Interleave, repetition by repetition, the systems of one shape (or whatever a
        # scenario groups: scaling interleaves the sizes of one kind too).
        key = getattr(modules[letter], "interleave_group", _same_shape)
        groups = dict.fromkeys(key(c) for c in mine)
        for group in groups:
            summaries += run_cases([c for c in mine if key(c) == group], reps, log=_line)
    info = machine_info(peer_versions)
    for c in summaries:
        c["run"] = info["date"]
    attach_ratios(summaries)
    record: dict[str, Any] = {
        "machine": info,
        "options": {
            "quick": args.quick,
            "reps": reps,
            "scenarios": letters,
            "peers": bool(args.peers),
        },
        "cases": summaries,
        "targets": evaluate_targets(summaries),
        "peers_note": None if args.peers else "Peers: not run (add `--peers`).",
    }
    stem = date.today().isoformat()
    if args.quick:
        stem += "-quick"
    elif letters != list(SCENARIOS):
        stem += "-" + "".join(letters)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    _write_reports(record, out / f"{stem}.json", refresh_docs=not args.no_docs)
    return 0

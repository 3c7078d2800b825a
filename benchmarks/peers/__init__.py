"""Peers measured in the same run: Prefect 3, Apache Hamilton, the published flowyml 2.2.1.

Each peer lives in its own virtualenv, ``benchmarks/.venvs/<name>``, created on request
(``python -m benchmarks --peers``) with ``uv venv`` + ``uv pip install``; a peer that is
not installed, fails to install, or fails to run is reported as ``skipped: <reason>``.
The peer scripts (``run_<name>.py``) run inside those virtualenvs and use only the peer's
public API.  Big shapes are capped per peer (``Peer.caps``) so a full run finishes; the
cap is printed next to the figure.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .._harness import Case
from .._shapes import Shape

__all__ = ("PEERS", "VENVS", "Peer", "ensure_venv", "peer_case", "peer_version")

HERE = Path(__file__).resolve().parent
VENVS = HERE.parent / ".venvs"
INSTALL_TIMEOUT_S = 600


@dataclass(frozen=True, slots=True)
class Peer:
    """A peer system: how to install it and how far to push it."""

    name: str
    title: str
    requirement: str
    dist: str
    script: str
    persists: bool
    caps: dict[str, int] = field(default_factory=dict)

    @property
    def python(self) -> Path:
        """The interpreter of its virtualenv."""
        return VENVS / self.name / "bin" / "python"


PEERS: tuple[Peer, ...] = (
    Peer(
        "prefect",
        "Prefect 3",
        "prefect>=3,<4",
        "prefect",
        "run_prefect.py",
        persists=True,
        caps={"chain": 200, "fanout": 200, "sleep_async": 200, "sleep_sync": 50, "cache": 200},
    ),
    Peer(
        "hamilton",
        "Hamilton",
        "sf-hamilton",
        "sf-hamilton",
        "run_hamilton.py",
        persists=False,
        caps={
            "chain": 10_000,
            "fanout": 10_000,
            "sleep_async": 1000,
            "sleep_sync": 50,
            "cache": 1000,
        },
    ),
    Peer(
        "flowyml221",
        "flowyml 2.2.1",
        "flowyml==2.2.1",
        "flowyml",
        "run_flowyml221.py",
        persists=True,
        caps={"chain": 200, "fanout": 200, "sleep_async": 200, "sleep_sync": 50, "cache": 200},
    ),
)


def _works(peer: Peer) -> bool:
    if not peer.python.exists():
        return False
    probe = subprocess.run(
        [str(peer.python), "-c", f"import importlib.metadata as m; m.version({peer.dist!r})"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return probe.returncode == 0


def ensure_venv(peer: Peer, *, create: bool, log: object = print) -> str | None:
    """Make sure ``peer`` is installed; return ``None`` if usable, else why it is skipped."""
    if _works(peer):
        return None
    if not create:
        return f"not installed (python -m benchmarks --peers creates {VENVS.name}/{peer.name})"
    uv = shutil.which("uv")
    cmd = [uv] if uv else [sys.executable, "-m", "uv"]
    env_dir = VENVS / peer.name
    steps = [
        [*cmd, "venv", "--quiet", "--python", sys.executable, str(env_dir)],
        [
            *cmd,
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(peer.python),
            peer.requirement,
        ],
    ]
    if callable(log):
        log(f"installing {peer.title} into {env_dir} ...")
    for step in steps:
        try:
            proc = subprocess.run(
                step,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
                env={**_env_without_venv(), "UV_PYTHON_DOWNLOADS": "never"},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"install failed: {type(exc).__name__}: {exc}"
        if proc.returncode != 0:
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
            return f"install failed ({' '.join(step[:3])}): {tail}"
    return None if _works(peer) else f"{peer.dist} not importable after install"


def _env_without_venv() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}


def peer_version(peer: Peer) -> str | None:
    """The installed version of the peer's distribution, if installed."""
    if not peer.python.exists():
        return None
    proc = subprocess.run(
        [
            str(peer.python),
            "-c",
            f"import importlib.metadata as m; print(m.version({peer.dist!r}))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def peer_case(
    peer: Peer, scenario: str, mode: str, shape: Shape | None, skipped: str | None
) -> Case:
    """A case running ``peer`` (``shape`` capped to the peer's limit) in its virtualenv."""
    note = ""
    if shape is not None:
        cap = peer.caps.get("cache" if mode == "cache" else shape.kind)
        if cap is not None and shape.n > cap:
            note = f"N capped at {cap:,} (asked {shape.n:,})"
            shape = Shape(shape.kind, cap, shape.sleep)
    return Case(
        scenario=scenario,
        system=peer.name,
        mode=mode,
        shape=shape,
        argv=[str(peer.python), str(HERE / peer.script)],
        note=note,
        skipped=skipped,
        timeout_s=900.0,
        budget_s=100.0,
    )

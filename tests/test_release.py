"""The release: its version, ``python -m flowyml``, and a wheel that serves the dashboard without Node."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from packaging.version import Version

import flowyml

ROOT = Path(__file__).resolve().parents[1]


def test_version_sorts_above_the_published_flowyml() -> None:
    assert Version(flowyml.__version__) > Version("2.2.1")
    assert importlib.metadata.version("flowyml") == flowyml.__version__


def test_node_engines_are_what_the_pinned_vite_needs() -> None:
    package = json.loads((ROOT / "web" / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text(encoding="utf-8"))
    vite = lock["packages"]["node_modules/vite"]
    assert package["devDependencies"]["vite"] == vite["version"] == "8.3.4"
    assert package["engines"]["node"] == vite["engines"]["node"]
    assert lock["packages"][""]["engines"] == package["engines"]


@pytest.mark.slow
def test_python_m_flowyml_is_the_flowyml_command(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("flowyml")
    env = {**os.environ, "FLOWYML_HOME": str(tmp_path), "COLUMNS": "100"}
    outputs = []
    for command in ([sys.executable, "-m", "flowyml"], [str(script)]):
        out = subprocess.run(
            [*command, "runs"], env=env, capture_output=True, text=True, timeout=60, check=True
        )
        outputs.append(out.stdout)
    assert outputs[0] == outputs[1] == "no runs\n"
    helps = subprocess.run(
        [sys.executable, "-m", "flowyml", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert all(command in helps.stdout for command in ("ui", "runs", "cache"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _install(wheel: Path, venv: Path) -> None:
    """A fresh virtual environment with ``wheel`` and its dependencies from the index."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is not None:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    # Outside the repository, so neither its configuration nor its sources are seen.
    subprocess.run([*install, str(wheel)], cwd=venv, check=True, timeout=600)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_wheel_ships_the_dashboard_and_serves_it_without_node(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        check=True,
        timeout=600,
    )
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"flowyml-{flowyml.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"flowyml/py.typed", "flowyml/__main__.py", "flowyml/server/static/index.html"} <= names
    assert any(re.fullmatch(r"flowyml/server/static/assets/.+\.js", n) for n in names)

    venv = tmp_path / "venv"
    _install(wheel, venv)
    bin_dir = venv / "bin"
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "FLOWYML_HOME": str(tmp_path / "home")}
    assert shutil.which("node", path=env["PATH"]) is None
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import flowyml; print(flowyml.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)

    port = _free_port()
    server = subprocess.Popen(
        [str(bin_dir / "flowyml"), "ui", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                index = httpx.get(f"{base}/", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "flowyml ui did not answer within 60 s"
                time.sleep(0.1)
        assert index.status_code == 200
        assert '<div id="root">' in index.text
        script = re.search(r'src="\.?/?(assets/[^"]+\.js)"', index.text)
        assert script is not None, index.text
        asset = httpx.get(f"{base}/{script[1]}", timeout=5)
        assert asset.status_code == 200
        assert "javascript" in asset.headers["content-type"]
        health = httpx.get(f"{base}/api/health", timeout=5).json()
        assert health["version"] == flowyml.__version__
    finally:
        server.terminate()
        server.wait(timeout=30)

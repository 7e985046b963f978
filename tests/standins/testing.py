"""Test helpers for the scheduler stand-ins: put them first on PATH with a fresh state directory."""

from __future__ import annotations

import os
from pathlib import Path

from . import engine

STANDINS = Path(__file__).resolve().parent


def use_standin(monkeypatch, tmp_path: Path, scheduler: str, queues=None) -> Path:
    """PATH = tests/standins/<scheduler> first; STANDIN_DIR = a fresh directory (returned)."""
    state = tmp_path / f"{scheduler}-state"
    state.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", f"{STANDINS / scheduler}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("STANDIN_DIR", str(state))
    for name in list(os.environ):
        if name.startswith("STANDIN_FAIL") or name == "STANDIN_HANG_SECONDS":
            monkeypatch.delenv(name, raising=False)
    engine.init(state, queues)
    return state


def write_script(workspace: Path, name: str, text: str) -> str:
    workspace.mkdir(parents=True, exist_ok=True)
    path = workspace / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def call_count(state: Path, cmd: str | None = None) -> int:
    return len(engine.calls(state, cmd))

"""End-to-end helpers: run the installed commands in a temporary working directory."""
# Imported by tests (tests/conftest.py puts tests/ on the import path).

import os
import subprocess
import sys
import textwrap


BIN = os.path.dirname(sys.executable)


def tool(name: str) -> str:
    return os.path.join(BIN, name)


def run(args, cwd, input=None, check=True, timeout=120):
    proc = subprocess.run([tool(args[0]), *args[1:]], cwd=cwd, input=input, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr}")
    return proc


def make_study(tmp_path, spec_text: str, name="study", extra=()) -> str:
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(spec_text))
    dag = run(["mexpand", str(spec)], tmp_path).stdout
    out = run(["mrender", "-o", str(tmp_path / name), *extra], tmp_path, input=dag).stdout.strip()
    return out

"""`maestro status`: mreport's core (load, build, render) with Maestro's options."""

import shutil
import sys
from datetime import datetime, timezone

import click

from mshared.clitools import stdout_bytes


def show(roots, *, layout: str, fmt: str, pager: bool) -> None:
    from mreport import core, load
    from mreport.formats import render

    now = datetime.now(timezone.utc)
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    outputs = []
    for index, root in enumerate(roots):
        study = load.read_study(root, with_dag=core.needs_dag("steps", (), fmt))
        report = core.build(study, now)
        out = render(report, fmt, "steps", layout=layout, width=width, tails=None)
        if index and fmt in ("table", "md"):
            out = b"\n" + out
        outputs.append(out)
    if pager:
        click.echo_via_pager(b"".join(outputs).decode("utf-8").removesuffix("\n"))
    else:
        stdout_bytes(b"".join(outputs))

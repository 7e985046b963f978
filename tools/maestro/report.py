"""`maestro status`: mreport's reports (mreport.core.report_studies) with Maestro's options."""

import shutil
import sys

import click

from mshared.clitools import stdout_bytes


def show(roots, *, layout: str, fmt: str, pager: bool) -> None:
    from mreport.core import report_studies
    from mshared.times import utcnow

    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    output = b"".join(one.output for one in report_studies(roots, now=utcnow(), fmt=fmt, layout=layout,
                                                           width=width))
    if pager:
        click.echo_via_pager(output.decode("utf-8").removesuffix("\n"))
    else:
        stdout_bytes(output)

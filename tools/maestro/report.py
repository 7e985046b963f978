"""`maestro status`: mreport's core, with Maestro's options."""


def show(roots, *, layout: str, fmt: str, pager: bool) -> None:
    from mreport import cli as report_cli  # noqa: F401  (wired once mreport lands)

    raise NotImplementedError

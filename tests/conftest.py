"""Shared pytest setup for maestro-microtools.

- Hypothesis profiles "ci" (small, the default), "dev" and "stress"; pick one with the environment
  variable HYPOTHESIS_PROFILE (`make stress` uses "stress").
- `slurm_cluster` (session fixture): the local SLURM of .ci/slurm/start-slurm.sh (`make slurm-up`).
  Tests marked `@pytest.mark.slurm` get it automatically; tests that request it get the marker.
  When SLURM is down the test is skipped, or FAILS when MAESTRO_REQUIRE_SLURM=1 (as in CI).
- Every test runs without user settings that change tool output (MAESTRO_DEBUG is unset).
- `tmp_cwd`: chdir into tmp_path (the samples' OUTPUT_PATH is relative to the working directory;
  tests never run studies inside the repository).
- `--update-goldens` / fixture `update_goldens`: golden-file tests rewrite their goldens instead of
  comparing.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:  # `import slurm_helpers` also under --import-mode=importlib
    sys.path.append(_TESTS_DIR)

import slurm_helpers  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ hypothesis profiles
# "ci" is small, and derandomized when CI=true so a CI run is reproducible (dev/stress explore).
settings.register_profile(
    "ci", max_examples=25, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI", "").lower() == "true",
)
settings.register_profile("dev", max_examples=100, deadline=None, print_blob=True)
settings.register_profile(
    "stress", max_examples=2000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
settings.load_profile(HYPOTHESIS_PROFILE)

# Environment variables a user may have set that change what the tools print or do.
USER_ENV_VARS = ("MAESTRO_DEBUG",)


def _require_slurm() -> bool:
    return os.environ.get("MAESTRO_REQUIRE_SLURM", "") == "1"


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens", action="store_true", default=False,
        help="rewrite golden files from the current output instead of comparing against them",
    )


def pytest_report_header(config):
    return (f"hypothesis profile: {HYPOTHESIS_PROFILE}; "
            f"MAESTRO_REQUIRE_SLURM={os.environ.get('MAESTRO_REQUIRE_SLURM', '')}")


def pytest_collection_modifyitems(config, items):
    # a test that uses the cluster is a SLURM test, so `-m "not slurm"` deselects it
    for item in items:
        if "slurm_cluster" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("slurm"):
            item.add_marker(pytest.mark.slurm)


# ------------------------------------------------------------------ SLURM
@dataclass(frozen=True)
class SlurmCluster:
    """The running local SLURM. `ping` is what `scontrol ping` printed."""

    ping: str
    conf: str

    helpers = slurm_helpers


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    up, message = slurm_helpers.ping()
    if not up:
        reason = (f"local SLURM is not running ({message}); start it with `make slurm-up` "
                  f"(.ci/slurm/start-slurm.sh, as root)")
        if _require_slurm():
            pytest.fail(f"MAESTRO_REQUIRE_SLURM=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return SlurmCluster(ping=message, conf=os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))


@pytest.fixture(autouse=True)
def _slurm_marker(request):
    """Tests marked `slurm` need the cluster even if they do not ask for the fixture."""
    if request.node.get_closest_marker("slurm"):
        request.getfixturevalue("slurm_cluster")


# ------------------------------------------------------------------ isolation
@pytest.fixture(autouse=True)
def _isolate_user_env(monkeypatch):
    for name in USER_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch) -> Path:
    """Run the test with tmp_path as the working directory; returns tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------ golden files
@pytest.fixture(scope="session")
def update_goldens(request) -> bool:
    """True when pytest ran with --update-goldens: rewrite golden files instead of comparing."""
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT

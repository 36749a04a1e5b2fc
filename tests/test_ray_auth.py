"""Joining a Ray cluster that uses token authentication (Ray's default for `ray start --head` where a token exists).

A head is started here with `ray start --head` in its own HOME (where `ray get-auth-token --generate` put the token) and
its own temporary folder. A driver that has the token, in ~/.ray/auth_token without RAY_AUTH_MODE (Ray alone would be
refused for 20 s) or as RAY_AUTH_TOKEN, joins it and runs a task; one that has none, or a wrong one, is refused at once
with one line naming the fix. Each driver is a fresh process running harness.execute.ray_cluster.join, the path
RayExecutor.connect takes for --ray-address. The head's processes are stopped by their ids at the end (`ray stop` would
stop every Ray of the machine, other test runs' included).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ray = pytest.importorskip("ray", reason="the ray extra (pip install -e '.[ray]')")
psutil = pytest.importorskip("psutil")
if not hasattr(ray.exceptions, "AuthenticationError"):
    pytest.skip(f"Ray {ray.__version__} has no token authentication (Ray 2.5x+)", allow_module_level=True)

from harness.errors import ClaimsError  # noqa: E402
from harness.execute import ray_cluster  # noqa: E402

RAY = str(Path(sys.executable).parent / "ray")
DRIVER = """
import sys, time
started = time.monotonic()
from harness.errors import ClaimsError
from harness.execute import ray_cluster
try:
    ray_cluster.join(sys.argv[1])
except ClaimsError as error:
    print("REFUSED", round(time.monotonic() - started, 1), error.what, error.fix, sep="\\n")
    raise SystemExit(0)
import ray
print("JOINED", ray.get(ray.remote(lambda: 6 * 7).remote()), round(time.monotonic() - started, 1), sep="\\n")
ray.shutdown()
"""


def _environment(home: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RAY_")}
    return {**env, "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            **extra}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(temp: Path) -> None:
    """Stop the head's processes, found by their temporary folder in their command line, by their ids."""
    mine = []
    for process in psutil.process_iter(["cmdline"]):
        with_temp = str(temp) in " ".join(process.info["cmdline"] or [])
        if with_temp and process.pid != os.getpid():
            mine.append(process)
    for process in mine:
        process.terminate()
    deadline = time.monotonic() + 3  # gcs_server and raylet may ignore SIGTERM for longer: then SIGKILL
    while mine and time.monotonic() < deadline:
        mine = [process for process in mine if _running(process)]
        time.sleep(0.2)
    for process in mine:
        process.kill()


def _running(process) -> bool:
    """Still running: neither gone nor a zombie (the head's processes outlive `ray start`, their parent, unreaped)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A Ray head with token authentication on: its address, its HOME (holding the token) and the token."""
    home = tmp_path_factory.mktemp("ray-head-home")
    temp = Path(tempfile.mkdtemp(prefix="rayauth", dir="/tmp"))  # short: Ray's socket paths must stay under 108 bytes
    env = _environment(home)
    token = subprocess.run([RAY, "get-auth-token", "--generate"], env=env, capture_output=True, text=True,
                           check=True, timeout=60).stdout.strip().splitlines()[-1]
    port = _free_port()
    started = subprocess.run([RAY, "start", "--head", f"--port={port}", "--num-cpus=1", f"--temp-dir={temp}",
                              "--include-dashboard=false", "--disable-usage-stats"], env=env, capture_output=True,
                             text=True, timeout=120)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Token authentication is enabled" in started.stdout + started.stderr
        yield SimpleNamespace(address=f"127.0.0.1:{port}", home=home, token=token)
    finally:
        _stop(temp)
        shutil.rmtree(temp, ignore_errors=True)


def _drive(address: str, home: Path, **extra: str) -> list[str]:
    run = subprocess.run([sys.executable, "-c", DRIVER, address], env=_environment(home, **extra), capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.strip().splitlines()
    return lines[max(i for i, line in enumerate(lines) if line in ("JOINED", "REFUSED")):]


def test_a_driver_with_the_token_file_joins_without_ray_auth_mode(head):
    outcome = _drive(head.address, head.home)
    assert outcome[:2] == ["JOINED", "42"], outcome


def test_a_driver_with_ray_auth_token_joins(head, tmp_path):
    outcome = _drive(head.address, tmp_path, RAY_AUTH_TOKEN=head.token)
    assert outcome[:2] == ["JOINED", "42"], outcome


@pytest.mark.parametrize("token, held", [(None, "refuses this driver, which has no token"),
                                         ("0" * 64, "refuses this driver's token")])
def test_a_driver_without_the_token_is_refused_at_once_naming_the_fix(head, tmp_path, token, held):
    started = time.monotonic()
    outcome = _drive(head.address, tmp_path, **({"RAY_AUTH_TOKEN": token} if token else {}))
    assert outcome[0] == "REFUSED" and float(outcome[1]) < 10 and time.monotonic() - started < 30, outcome
    assert f"--ray-address {head.address}: the Ray cluster there uses token authentication and {held}" in outcome[2]
    assert "RAY_AUTH_TOKEN" in outcome[3] and "ray get-auth-token" in outcome[3] and "~/.ray/auth_token" in outcome[3]


# --- the messages, without a cluster ---------------------------------------------------------------------------------

def test_ray_client_without_its_extra_names_that_extra_not_another_ray_address(monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # no token mode change in this process

    def init(**kwargs):
        raise ValueError("Ray Client requires pip package `ray[client]`. If you installed the minimal Ray ...")

    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(ClaimsError) as error:
        ray_cluster.join("ray://head:10001")
    assert "cannot join a Ray cluster there (Ray Client requires pip package `ray[client]`" in error.value.what
    assert 'pip install "ray[client]"' in error.value.fix and "--ray-address HOST:6379" in error.value.fix
    assert "ray://" not in error.value.fix.split("needs")[-1]


def test_an_address_where_nothing_runs_names_every_way_to_join():
    fix = ray_cluster.join_fix("10.0.0.1:6379", "Failed to connect to Ray cluster")
    assert "ray start --head" in fix and "HOST:6379" in fix and 'ray://HOST:10001 needs pip install "ray[client]"' in fix
    assert "RAY_AUTH_TOKEN" in fix

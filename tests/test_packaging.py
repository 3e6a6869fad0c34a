"""The wheel, built from the tracked files alone, holds everything the installed product needs.

An editable install reads the source tree and hides a file the wheel leaves out (the page's icon once was).
This builds a wheel from a copy of the files git tracks, checks that every file under server/web/static and
every .tcss file is in it, installs it in a fresh venv and has the installed `session-server` serve the page's
static files. The venv borrows this interpreter's site-packages for the dependencies (no network) and installs
the wheel itself with --no-deps; the check that `server` is imported from the venv, not from this tree,
keeps that honest.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import venv
import zipfile

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("needs_git")


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p and os.path.isfile(os.path.join(ROOT, p))]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> str:
    src = tmp_path_factory.mktemp("clean")
    for rel in _tracked():
        dst = src / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), dst)
    dist = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
           "-w", str(dist), str(src)]
    # without build isolation when this interpreter can build wheels itself (setuptools with bdist_wheel);
    # otherwise pip fetches the build requirements into an isolated environment
    if subprocess.run(cmd + ["--no-build-isolation"], capture_output=True, timeout=120).returncode != 0:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    (whl,) = [p for p in os.listdir(dist) if p.endswith(".whl")]
    return str(dist / whl)


def test_wheel_holds_every_static_file_and_style(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = _tracked()
    static = [p for p in tracked if p.startswith("server/web/static/")]
    assert "server/web/static/icon.svg" in static and "server/web/static/staff.html" in static
    styles = [p for p in tracked if p.endswith(".tcss")]
    assert styles
    scenarios = [p for p in tracked if p.startswith("campaigns/scenarios/") and p.endswith(".toml")]
    assert len(scenarios) >= 18 and any("/program_evening/" in p for p in scenarios)
    missing = [p for p in static + styles + scenarios if p not in names]
    assert not missing, f"the wheel lacks {missing}"


def test_wheel_has_readme_metadata(wheel):
    zf = zipfile.ZipFile(wheel)
    (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
    text = zf.read(meta).decode()
    assert "Description-Content-Type: text/markdown" in text
    assert "Requires-Dist: textual" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[str, dict]:
    """A fresh venv with the wheel installed: its python, and an environment without this tree."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = str(env_dir / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", wheel], check=True, capture_output=True, env=env, timeout=120)
    where = subprocess.run([py, "-c", "import server, campaigns; print(server.__file__, campaigns.__file__)"],
                           cwd=env_dir, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert all(w.startswith(str(env_dir)) for w in where), f"imported from {where}, not from the installed wheel"
    return py, env


def test_installed_server_serves_static_files(installed, tmp_path):
    py, env = installed
    env_dir = os.path.dirname(os.path.dirname(py))
    port = _free_port()
    proc = subprocess.Popen([os.path.join(env_dir, "bin", "session-server"), "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--db", str(tmp_path / "record.db"), "--no-media",
                             "--secret-file", str(tmp_path / "secret")],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/static/icon.svg", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the installed server did not come up"
                time.sleep(0.1)
        # the two pages are served at their own paths, every other file under /static/
        pages = {"server/web/static/index.html": "/", "server/web/static/staff.html": "/staff"}
        for rel in [p for p in _tracked() if p.startswith("server/web/static/")]:
            url = base + pages.get(rel, "/" + rel.removeprefix("server/web/"))
            with urllib.request.urlopen(url, timeout=5) as r:
                assert r.status == 200, url
                with open(os.path.join(ROOT, rel), "rb") as f:
                    assert r.read() == f.read(), url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_installed_campaign_plays_the_shipped_scenarios(installed, tmp_path):
    """From outside any checkout, the installed campaigns find the scenario library in the wheel."""
    py, env = installed
    r = subprocess.run([py, "-m", "campaigns", "tamper", "--quick"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    assert fig["failures"] == 0 and fig["scenarios"] == 2 and fig["rows_in_record"] > 0, fig
    assert fig["caught"] == fig["trials"] == 100


def test_campaigns_refuse_to_pass_over_no_scenario(tmp_path):
    from campaigns.common import NoScenarios, scenario_paths
    assert scenario_paths()     # the library that ships with the campaigns
    with pytest.raises(NoScenarios):
        scenario_paths(str(tmp_path))   # a folder with none: a check over nothing must not pass

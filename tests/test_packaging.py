"""The wheel alone is enough: built from the project, installed in a fresh venv, it runs.

`python -m build --no-isolation` builds an sdist from the project (what a clean clone holds:
hatchling leaves out what .gitignore does) and then the wheel from that sdist, so the wheel
cannot pick up anything that is only in this working tree. The wheel is installed with
`--no-deps --no-index` into a new venv that has no pip and no copy of this project; its
dependencies are the running venv's, seen through a folder of links that leaves out this
project's own files (the editable install's path file, its metadata and its copy of the
schemas). Then, from a temporary working folder, the installed command runs `--about`,
`--discover` and a sync of every stream against the sandbox store (also started from the new
venv), and the test checks that every module and schema came from the new venv.

No network beyond loopback: the build backend and pip use only what is installed. Deselect
with `-m "not packaging"`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import typing as t
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from tests.taprun import FAST, STORE_HASH, TOKEN, parse_messages, select_only

pytestmark = pytest.mark.packaging

PROJECT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text())
DISTRIBUTION = PYPROJECT["project"]["name"]
VERSION = PYPROJECT["project"]["version"]
SCHEMAS = sorted(p.name for p in (PROJECT / "schemas").glob("*.json"))
#: Entries of the running venv's site-packages that belong to this project, not to its
#: dependencies (an editable install: path file, metadata, force-included schemas).
OWN = ("tap_bigcommerce", "bigcommerce_singer_tap", "_editable_impl_", "__editable__")
TIMEOUT_S = 60


@dataclass
class Installed:
    """The fresh venv with the wheel in it."""

    wheel: Path
    venv: Path
    site: Path  # the venv's site-packages
    workdir: Path  # an empty working folder, far from the project
    env: dict[str, str]

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            command,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        if check:
            assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-4000:])
        return done


def run(*command: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def quiet_env() -> dict[str, str]:
    """The caller's environment without what would change the build, pip or the tap."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PYTHON", "TAP_BIGCOMMERCE", "UV_", "VIRTUAL_ENV"))
        and k not in ("LOGLEVEL", "SINGER_SDK_LOG_CONFIG")
    }
    return env | {
        "PIP_CONFIG_FILE": os.devnull,  # no index, mirror or find-links from pip.conf
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INDEX": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def dependency_links(folder: Path) -> Path:
    """A folder of links to the running venv's packages, without this project's files."""
    folder.mkdir()
    paths = sysconfig.get_paths()
    for site in dict.fromkeys(Path(paths[key]).resolve() for key in ("purelib", "platlib")):
        for entry in site.iterdir():
            skip = entry.name.startswith(OWN) or entry.suffix == ".pth"
            if skip or entry.name == "__pycache__" or (folder / entry.name).exists():
                continue
            (folder / entry.name).symlink_to(entry)
    return folder


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("packaging")
    env = quiet_env()

    dist = root / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, PROJECT, env=env)
    (wheel,) = dist.glob("*.whl")

    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, env=env)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    site = Path(str(site).strip())
    # A plain path line: the folder joins sys.path, its own .pth files are not run.
    (site / "dependencies.pth").write_text(f"{dependency_links(root / 'deps')}\n")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel]
    run(*pip, env=env)

    workdir = root / "work"
    workdir.mkdir()
    return Installed(wheel, venv, site, workdir, env)


@pytest.fixture(scope="module")
def sandbox(installed: Installed) -> Iterator[dict[str, t.Any]]:
    """The sandbox store, started from the new venv; yields its ready file's content."""
    ready = installed.workdir / "sandbox.json"
    process = subprocess.Popen(
        [installed.bin("python"), "-m", "tap_bigcommerce.sandbox", "--ready-file", str(ready),
         "--store-hash", STORE_HASH, "--access-token", TOKEN,
         "--products", "40", "--customers", "30", "--orders", "30"],
        cwd=installed.workdir,
        env=installed.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if process.poll() is not None:
                pytest.fail(f"the sandbox store ended: {process.communicate()[1][-2000:]}")
            assert time.monotonic() < deadline, "the sandbox store did not start in 30 s"
            time.sleep(0.05)
        yield json.loads(ready.read_text())
    finally:
        process.terminate()
        process.communicate(timeout=10)


def write_config(installed: Installed, api_url: str) -> str:
    path = installed.workdir / "config.json"
    config = {"store_hash": STORE_HASH, "access_token": TOKEN, "api_url": api_url, **FAST}
    path.write_text(json.dumps(config))
    return str(path)


def inside(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


# ----------------------------------------------------------------- tests


def test_wheel_holds_the_package_and_every_schema(installed: Installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert "tap_bigcommerce/__init__.py" in names
    assert "tap_bigcommerce/sandbox/__main__.py" in names
    missing = [s for s in SCHEMAS if f"tap_bigcommerce/schemas/{s}" not in names]
    assert not missing, f"schemas not in the wheel: {missing}"
    assert installed.wheel.name.startswith(f"{DISTRIBUTION.replace('-', '_')}-{VERSION}-")


def test_everything_comes_from_the_new_venv(installed: Installed):
    probe = (
        "import json, sys, importlib.metadata as m, tap_bigcommerce\n"
        "from tap_bigcommerce.schema_files import schema_dir\n"
        f"dist = m.distribution({DISTRIBUTION!r})\n"
        "print(json.dumps({'file': tap_bigcommerce.__file__, 'version': dist.version,\n"
        "    'metadata': str(dist.locate_file('')), 'schemas': str(schema_dir()),\n"
        "    'found': sorted(p.name for p in schema_dir().glob('*.json')),\n"
        "    'path': sys.path, 'command': sys.argv}))\n"
    )
    seen = json.loads(installed.run(installed.bin("python"), "-c", probe).stdout)
    assert inside(seen["file"], installed.site), seen["file"]
    assert inside(seen["schemas"], installed.site), seen["schemas"]
    assert inside(seen["metadata"], installed.site), seen["metadata"]
    assert seen["found"] == SCHEMAS
    assert seen["version"] == VERSION
    assert not [p for p in seen["path"] if p and inside(p, PROJECT)], seen["path"]


def test_about_prints_the_packaged_version(installed: Installed):
    command = installed.bin("tap-bigcommerce")
    about = json.loads(installed.run(command, "--about", "--format=json").stdout)
    assert about["name"] == "tap-bigcommerce"
    assert about["version"] == VERSION
    assert about["supported_python_versions"], "no Requires-Python read from the metadata"


def test_discover_and_sync_every_stream(installed: Installed, sandbox: dict[str, t.Any]):
    command = installed.bin("tap-bigcommerce")
    config = write_config(installed, sandbox["api_url"])
    catalog = json.loads(installed.run(command, "--config", config, "--discover").stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert sorted(f"{name}.json" for name in streams) == SCHEMAS
    for name, stream in streams.items():
        source = json.loads((PROJECT / "schemas" / f"{name}.json").read_text())
        # The schema file's fields, and `store_hash`, which the tap puts in every schema.
        wanted = {*source["properties"], "store_hash"}
        assert set(stream["schema"]["properties"]) == wanted, name

    catalog_path = installed.workdir / "catalog.json"
    catalog_path.write_text(json.dumps(select_only(catalog, streams)))
    done = installed.run(command, "--config", config, "--catalog", str(catalog_path))
    messages = parse_messages(done.stdout)
    records: dict[str, int] = {}
    for message in messages:
        if message["type"] == "RECORD":
            records[message["stream"]] = records.get(message["stream"], 0) + 1
    assert set(records) == set(streams), records
    for parent in ("products", "customers", "orders"):
        assert records[parent] == sandbox["counts"][parent], (parent, records)
    assert messages[-1]["type"] == "STATE"

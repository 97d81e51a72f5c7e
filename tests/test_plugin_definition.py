"""The Meltano plugin definition in the repository says what `tap-bigcommerce --about` says.

`plugins/extractors/tap-bigcommerce--<variant>.lock` is a Hub-style definition (Meltano's
lock file format) and the one place `meltano.yml` takes the extractor's settings,
capabilities and default selection from. These tests keep it in step with the tap, and check
with the real `meltano` command that the project resolves the extractor from that file
(never from Meltano Hub, whose `tap-bigcommerce` is another tap). No network is used.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

from tap_bigcommerce import DISTRIBUTION
from tap_bigcommerce.streams import STREAM_TYPES
from tests.taprun import tap_command

PROJECT = Path(__file__).resolve().parent.parent

#: Settings Meltano must pass as they are: no `kind` (see the comment in meltano.yml).
#: Meltano 4.4.1 turns a `kind: decimal` value given as text into a Decimal and then fails
#: to write the tap's config as JSON.
NO_KIND = "number"


def meltano_extractor() -> dict[str, t.Any]:
    project = yaml.safe_load((PROJECT / "meltano.yml").read_text())
    (extractor,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-bigcommerce"]
    return extractor


def lock_path() -> Path:
    extractor = meltano_extractor()
    name = f"{extractor['name']}--{extractor['variant']}.lock"
    return PROJECT / "plugins" / "extractors" / name


@pytest.fixture(scope="module")
def definition() -> dict[str, t.Any]:
    return json.loads(lock_path().read_text())


@pytest.fixture(scope="module")
def about() -> dict[str, t.Any]:
    done = subprocess.run(
        [*tap_command(), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def expected_kind(prop: dict[str, t.Any]) -> str | None:
    """The Meltano `kind` for a JSON Schema property of the tap's settings."""
    (json_type,) = [x for x in prop["type"] if x != "null"]
    if json_type == "string":
        return "date_iso8601" if prop.get("format") == "date-time" else "string"
    if json_type == NO_KIND:
        return None
    return json_type  # integer, boolean, object, array: the same word in Meltano


def test_meltano_yml_takes_the_extractor_from_the_definition_file(definition):
    extractor = meltano_extractor()
    # No namespace: not a custom plugin, so Meltano looks up the lock file for
    # name + variant; nothing the definition says is repeated (or overridden) here.
    assert set(extractor) == {"name", "variant", "pip_url"}, sorted(extractor)
    assert extractor["pip_url"] == "-e ."  # this project runs its own checkout
    assert definition["plugin_type"] == "extractors"
    assert definition["name"] == extractor["name"] == "tap-bigcommerce"
    assert definition["variant"] == extractor["variant"]


def test_definition_installs_this_distribution_and_runs_its_command(definition):
    assert definition["pip_url"] == DISTRIBUTION
    assert definition["namespace"] == "tap_bigcommerce"
    assert definition["executable"] == "tap-bigcommerce"


def test_capabilities_and_python_versions_are_the_taps(definition, about):
    assert sorted(definition["capabilities"]) == sorted(about["capabilities"])
    assert definition["supported_python_versions"] == about["supported_python_versions"]


def test_settings_are_the_taps(definition, about):
    properties = about["settings"]["properties"]
    assert [s["name"] for s in definition["settings"]] == list(properties)
    for setting in definition["settings"]:
        prop = properties[setting["name"]]
        name = setting["name"]
        assert setting.get("kind") == expected_kind(prop), (name, "kind")
        assert setting.get("label") == prop.get("title"), (name, "label")
        assert setting.get("description") == prop.get("description"), (name, "description")
        assert setting.get("value") == prop.get("default"), (name, "value")
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), (name, "sensitive")
    secrets = {s["name"] for s in definition["settings"] if s.get("sensitive")}
    assert secrets == {"access_token", "api_key", "stores"}


def test_every_settings_group_holds_the_required_settings(definition, about):
    names = {s["name"] for s in definition["settings"]}
    required = set(about["settings"].get("required") or [])
    groups = definition["settings_group_validation"]
    assert groups
    for group in groups:
        assert required <= set(group) <= names, group
    # Either key name works, and one of them is needed; or a list of stores.
    assert {g for group in groups for g in group} - required == {
        "store_hash",
        "access_token",
        "api_key",
        "stores",
    }


def test_default_selection_is_every_stream_selected_by_default(definition):
    # An opt-in stream (`selected_by_default = False`: order_transactions, one request per
    # order) is left out, as the tap's own discovery leaves it unselected.
    assert definition["select"] == [
        f"{stream.name}.*" for stream in STREAM_TYPES if stream.selected_by_default
    ]
    assert any(not stream.selected_by_default for stream in STREAM_TYPES)


def test_meltano_reads_the_file_as_written(definition):
    from meltano.core.plugin.base import StandalonePlugin

    parsed = StandalonePlugin.parse(definition).canonical()
    assert json.loads(json.dumps(parsed)) == definition


def test_meltano_resolves_the_extractor_from_the_file(tmp_path, definition):
    """The real `meltano`, in a copy of the project, with Meltano Hub out of reach."""
    shutil.copy(PROJECT / "meltano.yml", tmp_path / "meltano.yml")
    shutil.copytree(PROJECT / "plugins", tmp_path / "plugins")
    meltano = str(Path(sys.executable).with_name("meltano"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        # Anything asking Meltano Hub fails at once (nothing listens on port 9).
        "MELTANO_HUB_URL": "http://127.0.0.1:9",
        "MELTANO_HUB_API_ROOT": "http://127.0.0.1:9/meltano/api/v1",
    }

    def config_print(*extra: str) -> dict[str, t.Any]:
        done = subprocess.run(
            [meltano, "config", "print", *extra, "--format=json", "tap-bigcommerce"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    defaults = {s["name"]: s["value"] for s in definition["settings"] if "value" in s}
    assert config_print() == defaults
    assert config_print("--extras")["_select"] == definition["select"]

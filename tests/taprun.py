"""Run the installed `tap-bigcommerce` command as a user would, and read what it wrote."""

from __future__ import annotations

import decimal
import json
import os
import shutil
import subprocess
import sys
import tempfile
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

TOKEN = "sandbox-token-5f2c9e81d4b7a6"
STORE_HASH = "abc123"

#: Settings that keep the suite fast: retries wait milliseconds, not seconds.
FAST = {"retry_backoff_base": 0.01, "retry_backoff_max": 0.05, "quota_reserve": 0}


def tap_command() -> list[str]:
    """The console script next to the running interpreter (the project's venv)."""
    script = Path(sys.executable).with_name("tap-bigcommerce")
    return [str(script)] if script.exists() else [shutil.which("tap-bigcommerce") or "false"]


def sandbox_config(api_url: str, **overrides: t.Any) -> dict[str, t.Any]:
    """Settings for the sandbox store at `api_url`."""
    return {
        "store_hash": STORE_HASH,
        "access_token": TOKEN,
        "api_url": api_url,
        **FAST,
        **overrides,
    }


@dataclass
class TapRun:
    """What one run of the tap printed."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict] = field(default_factory=list)

    def records(self, stream: str) -> list[dict]:
        """RECORD payloads of `stream`, in order."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def states(self) -> list[dict]:
        """Every STATE value, in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict | None:
        """The last STATE written, as Meltano would store it."""
        states = self.states()
        return states[-1] if states else None


def run_tap(
    config: dict[str, t.Any],
    *args: str,
    state: dict | None = None,
    catalog: dict | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> TapRun:
    """Run the tap with `config` (and optional state/catalog); never reads the caller's env."""
    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder, "config.json")
        config_path.write_text(json.dumps(config))
        command = [*tap_command(), "--config", str(config_path), *args]
        for name, value in (("state", state), ("catalog", catalog)):
            if value is not None:
                path = Path(folder, f"{name}.json")
                path.write_text(json.dumps(value))
                command += [f"--{name}", str(path)]
        clean_env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_BIGCOMMERCE")}
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**clean_env, **(env or {})},
            timeout=timeout,
            check=False,
        )
    messages = []
    for line in done.stdout.splitlines():
        if line.startswith('{"type":'):  # Singer messages; --discover prints a catalog
            messages.append(json.loads(line, parse_float=decimal.Decimal))
    return TapRun(done.returncode, done.stdout, done.stderr, messages)

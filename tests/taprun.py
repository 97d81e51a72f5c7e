"""Run the installed `tap-bigcommerce` command as a user would, and read what it wrote."""

from __future__ import annotations

import decimal
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
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


#: Variables of the caller's shell that would change what the tap reads or logs.
_FOREIGN_ENV = ("LOGLEVEL", "SINGER_SDK_LOG_CONFIG")


def _clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TAP_BIGCOMMERCE") and k not in _FOREIGN_ENV
    }


def store_bookmark(
    state: dict | None, stream: str, store_hash: str = STORE_HASH, **context: t.Any
) -> dict:
    """The state partition of `stream` for one store (and one row: `price_list_id=...`)."""
    wanted = {"store_hash": store_hash, **context}
    stream_state = ((state or {}).get("bookmarks") or {}).get(stream) or {}
    for partition in stream_state.get("partitions") or []:
        if partition.get("context") == wanted:
            return partition
    return {}


def store_bookmarks(state: dict | None, store_hash: str = STORE_HASH) -> dict[str, dict]:
    """Each stream's state partition for one store (streams with one bookmark a store)."""
    found = {}
    for stream, stream_state in ((state or {}).get("bookmarks") or {}).items():
        for partition in (stream_state or {}).get("partitions") or []:
            if partition.get("context") == {"store_hash": store_hash}:
                found[stream] = partition
    return found


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
        clean_env = _clean_env()
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**clean_env, **(env or {})},
            timeout=timeout,
            check=False,
        )
    # Singer messages only; --discover prints a catalog
    return TapRun(done.returncode, done.stdout, done.stderr, parse_messages(done.stdout))


def parse_messages(stdout: str) -> list[dict]:
    """The Singer messages among the lines a tap printed."""
    return [
        json.loads(line, parse_float=decimal.Decimal)
        for line in stdout.splitlines()
        if line.startswith('{"type":')
    ]


def discovered_with(api_url: str, names: t.Iterable[str]) -> dict:
    """The catalog the tap discovers at `api_url`, with exactly the streams `names` selected."""
    run = run_tap(sandbox_config(api_url), "--discover")
    assert run.returncode == 0, run.stderr
    return select_only(json.loads(run.stdout), names)


def select_only(catalog: dict, names: t.Iterable[str]) -> dict:
    """A copy of `catalog` with exactly the streams `names` selected."""
    wanted = set(names)
    copy = json.loads(json.dumps(catalog))
    for stream in copy["streams"]:
        for entry in stream.get("metadata", []):
            if entry.get("breadcrumb") == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in wanted
    return copy


class TapProcess:
    """The tap running in the background; its stdout is read as it is written.

    For crash tests: wait until the tap has printed something, then kill it with SIGKILL
    (a crash gives no chance to flush or clean up), and keep exactly what it printed.
    """

    def __init__(
        self,
        config: dict[str, t.Any],
        *args: str,
        state: dict | None = None,
        catalog: dict | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._folder = tempfile.TemporaryDirectory()
        folder = self._folder.name
        Path(folder, "config.json").write_text(json.dumps(config))
        command = [*tap_command(), "--config", str(Path(folder, "config.json")), *args]
        for name, value in (("state", state), ("catalog", catalog)):
            if value is not None:
                Path(folder, f"{name}.json").write_text(json.dumps(value))
                command += [f"--{name}", str(Path(folder, f"{name}.json"))]
        self._stderr = Path(folder, "stderr.txt").open("w+")  # noqa: SIM115 - closed in finish
        clean_env = _clean_env()
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**clean_env, **(env or {})},
        )
        self.lines: list[str] = []
        self.messages: list[dict] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                # A SIGKILL can cut the last line short, as a target would see it too.
                if line.startswith('{"type":') and line.endswith("\n"):
                    self.messages.append(json.loads(line, parse_float=decimal.Decimal))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, condition: t.Callable[[list[dict]], bool], timeout: float = 60) -> bool:
        """Block until `condition(messages so far)` holds; False if the tap ended first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self.messages):
                if not self._reader.is_alive() or time.monotonic() > deadline:
                    return condition(self.messages)
                self._changed.wait(timeout=0.2)
        return True

    def kill(self) -> TapRun:
        """SIGKILL the tap and return everything it had printed."""
        self.process.kill()
        return self.finish()

    def finish(self, timeout: float = 120) -> TapRun:
        """Wait for the tap to end; return what it printed."""
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.seek(0)
        stderr = self._stderr.read()
        self._stderr.close()
        self._folder.cleanup()
        return TapRun(self.process.returncode, "".join(self.lines), stderr, list(self.messages))

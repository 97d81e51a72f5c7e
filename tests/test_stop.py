"""A run stopped by a signal (SIGTERM, SIGINT), over real HTTP against the sandbox stores.

It stops at once, in every store; what it wrote is whole Singer, ending with a STATE that
covers only records written; the exit status says it was stopped (128 plus the signal); no
store is reported failed; and the next run, from that STATE, loses nothing. Also when the
target reads slowly, at a second signal, and during discovery.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
import time
import types
import typing as t

import pytest
from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_bigcommerce.output import StateFlushingWriter
from tap_bigcommerce.sandbox import Sandbox, Store
from tap_bigcommerce.tap import TapBigCommerce
from tests.taprun import (
    STORE_HASH,
    TOKEN,
    TapProcess,
    TapRun,
    discovered_with,
    run_tap,
    sandbox_config,
    tap_command,
)
from tests.test_stores import (
    PARENTS,
    SELECTED,
    activations,
    assert_every_record_read,
    assert_state_covers_only_records_written,
    by_store,
    discovered,
    serving,
    some_progress_written,
    stores_config,
)


@pytest.fixture(scope="module")
def catalog() -> dict:
    return discovered()


def by_store_pairs(run: TapRun, stream: str) -> list[tuple[str, int]]:
    return [(r["store_hash"], r["id"]) for r in run.records(stream)]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line or "error:" in line]


@pytest.mark.parametrize(("count", "signum"), [(3, signal.SIGTERM), (1, signal.SIGINT)])
def test_a_signal_stops_every_store_at_once_keeping_what_was_written(catalog, count, signum):
    with serving(count) as sandboxes:
        for sb in sandboxes:  # each store takes seconds: far from read when the signal comes
            sb.latency_ms = 100
        # Two stores at a time: the third has not begun when the signal comes.
        config = stores_config(sandboxes, page_size=5, max_stores_in_parallel=2)
        tap = TapProcess(config, catalog=catalog)
        try:
            wrote = tap.wait_for(some_progress_written)
        finally:
            tap.process.send_signal(signum)
            stopped = tap.finish(timeout=60)
        assert wrote, stopped.stderr
        for sb in sandboxes:
            sb.latency_ms = 0
        rerun = run_tap(config, catalog=catalog, state=stopped.final_state)
        whole = run_tap(config, catalog=catalog)
    # Stopped, not done: a status that says so, at once (the stores are far from read).
    assert stopped.returncode == 128 + signum, stopped.stderr
    assert f"Stopped by {signal.Signals(signum).name}" in stopped.stderr
    # A stop is no store's failure: nothing logged as an error.
    assert not error_lines(stopped.stderr)
    read = sum(
        len(by_store(stopped, s).get(sb.store_hash, [])) for s in PARENTS for sb in sandboxes
    )
    assert read < sum(len(sb.store.ids(s)) for s in PARENTS for sb in sandboxes)
    if count > 1:
        assert sandboxes[2].store_hash not in by_store(stopped, "products")
        assert not activations(stopped)  # that store's rows would be marked deleted
    # The last line is the STATE, and no STATE covers a record not written ...
    assert stopped.messages[-1]["type"] == "STATE"
    assert_state_covers_only_records_written(stopped.messages)
    # ... so the next run, from it, reads every record of every store, and every child row
    # (the state in memory at the signal may cover parents whose rows were still to come).
    assert rerun.returncode == 0, rerun.stderr
    assert whole.returncode == 0, whole.stderr
    for stream in SELECTED:
        got = set(by_store_pairs(stopped, stream)) | set(by_store_pairs(rerun, stream))
        assert got == set(by_store_pairs(whole, stream)), stream
    assert_every_record_read(sandboxes, stopped, rerun)


def test_a_signal_while_the_target_reads_slowly_leaves_every_line_whole_and_once(tmp_path):
    # The target stops reading: the tap blocks writing a line when the signal comes. Writing
    # from the signal handler then (as the SDK does) cuts that line and repeats its start.
    with Sandbox(Store(seed=1, products=400, customers=5, orders=5), store_hash=STORE_HASH,
                 access_token=TOKEN) as sb:  # fmt: skip
        catalog = discovered_with(sb.api_url, ["products", "product_variants"])
        # A bookmark, so that a STATE is written before any record.
        state = {"bookmarks": {"products": {"partitions": [
            {"context": {"store_hash": STORE_HASH}, "replication_key": "date_modified",
             "replication_key_value": "2000-01-01T00:00:00+00:00"}]}}}  # fmt: skip
        files = {"config": sandbox_config(sb.api_url, page_size=50), "catalog": catalog}
        files["state"] = state
        command = [*tap_command()]
        for name, value in files.items():
            (tmp_path / f"{name}.json").write_text(json.dumps(value))
            command += [f"--{name}", str(tmp_path / f"{name}.json")]
        with (tmp_path / "stderr").open("w") as stderr:
            tap = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
            assert tap.stdout is not None
            out = tap.stdout.read(1 << 15)
            settled = _requests_settle(sb)  # the pipe is full: no more pages asked for
            out += tap.stdout.read(1 << 12)  # the blocked write goes on a little, and then
            time.sleep(0.2)
            tap.send_signal(signal.SIGTERM)
            out += tap.stdout.read()
            tap.stdout.close()
            tap.wait(timeout=60)
    assert settled
    assert tap.returncode == 128 + signal.SIGTERM, (tmp_path / "stderr").read_text()
    lines = out.split(b"\n")
    assert lines.pop() == b""  # the output ends with a whole line
    messages = [json.loads(line) for line in lines]  # every one of them whole
    records = [line for line, m in zip(lines, messages, strict=True) if m["type"] == "RECORD"]
    assert records and len(set(records)) == len(records)  # none written twice
    assert messages[-1]["type"] == "STATE"


def _requests_settle(sb: Sandbox, quiet_s: float = 0.5, timeout_s: float = 30) -> bool:
    """Wait until the sandbox has had no request for `quiet_s`; False if it never does."""
    deadline = time.monotonic() + timeout_s
    seen, since = len(sb.requests), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = len(sb.requests)
        if now != seen:
            seen, since = now, time.monotonic()
        elif seen and time.monotonic() - since >= quiet_s:
            return True
    return False


def test_a_second_signal_changes_nothing(catalog):
    with serving(3) as sandboxes:
        for sb in sandboxes:
            sb.latency_ms = 50
        tap = TapProcess(stores_config(sandboxes, page_size=5), catalog=catalog)
        try:
            wrote = tap.wait_for(some_progress_written)
            for sb in sandboxes:  # requests under way at the signals take a while to answer
                sb.latency_ms = 1500
            time.sleep(0.3)
        finally:
            tap.process.send_signal(signal.SIGINT)
            time.sleep(0.05)
            tap.process.send_signal(signal.SIGINT)
            stopped = tap.finish(timeout=60)
    assert wrote, stopped.stderr
    assert stopped.returncode == 128 + signal.SIGINT, stopped.stderr
    assert stopped.stderr.count("Stopped by SIGINT") == 1
    assert not error_lines(stopped.stderr)
    assert stopped.messages[-1]["type"] == "STATE"
    assert_state_covers_only_records_written(stopped.messages)


def test_a_signal_during_discovery_stops_every_stores_checks_at_once():
    with serving(3) as sandboxes:
        for sb in sandboxes:
            sb.latency_ms = 200  # a check is a request a stream: seconds a store
        tap = TapProcess(stores_config(sandboxes), "--discover")
        deadline = time.monotonic() + 30
        while not all(sb.requests for sb in sandboxes) and time.monotonic() < deadline:
            time.sleep(0.05)
        tap.process.send_signal(signal.SIGTERM)
        asked = sum(len(sb.requests) for sb in sandboxes)
        stopped = tap.finish(timeout=60)
        after = sum(len(sb.requests) for sb in sandboxes) - asked
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
    assert "Stopped by SIGTERM" in stopped.stderr and not stopped.stdout
    assert "No catalog was written" in stopped.stderr
    # Only the requests under way at the signal (one a store) were answered after it; a few
    # more may start in the moment before it is handled.
    assert after <= 2 * len(sandboxes), after
    assert not error_lines(stopped.stderr)


class _ShortWrites(io.BytesIO):
    """A stdout whose writes take at most `most` bytes each, as one cut short by a signal."""

    def __init__(self, most: int) -> None:
        super().__init__()
        self.most = most

    def write(self, data: t.Any) -> int:
        return super().write(bytes(data)[: self.most])


def test_a_write_cut_short_is_completed_and_none_repeated(monkeypatch):
    out = _ShortWrites(most=1000)
    monkeypatch.setattr(sys, "stdout", types.SimpleNamespace(buffer=out))
    writer = StateFlushingWriter()
    records = [RecordMessage(stream="s", record={"id": i, "pad": "x" * 300}) for i in range(300)]
    for message in [*records, StateMessage(value={"bookmarks": {}})]:
        writer.write_message(message)
    writer.end_with_last_state()
    lines = out.getvalue().split(b"\n")
    assert lines.pop() == b""
    got = [json.loads(line) for line in lines]
    assert [m["record"]["id"] for m in got if m["type"] == "RECORD"] == list(range(300))
    assert [m["type"] for m in got[-2:]] == ["STATE", "STATE"]


@pytest.mark.parametrize("mode", [(), ("--test",)], ids=["sync", "test"])
def test_a_request_failing_for_good_after_the_signal_is_the_stop_not_a_failure(mode):
    with Sandbox(Store(seed=2, products=30, customers=5, orders=5), store_hash=STORE_HASH,
                 access_token=TOKEN) as sb:  # fmt: skip
        catalog = discovered_with(sb.api_url, ["products"])
        asked = threading.Event()
        sb.hooks.append(lambda request: asked.set() if "/catalog/products" in request.path else 0)
        # The request under way at the signal comes back failing, with no retry left.
        sb.faults.add("500", path_contains="/catalog/products", times=None)
        sb.latency_ms = 1500
        tap = TapProcess(sandbox_config(sb.api_url, max_retries=0), *mode, catalog=catalog)
        try:
            assert asked.wait(30)
        finally:
            tap.process.send_signal(signal.SIGTERM)
            stopped = tap.finish(timeout=60)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
    assert "topped by SIGTERM" in stopped.stderr
    assert "retry" not in stopped.stderr and "Traceback" not in stopped.stderr
    # (`--test` reads each stream until its first record, which the SDK logs as an error.)
    assert not error_lines(stopped.stderr) or mode
    assert "error:" not in stopped.stderr


@pytest.mark.parametrize("count", [1, 3])
def test_a_signal_before_the_run_begins_stops_it_before_any_request(catalog, count, capsys):
    with serving(count) as sandboxes:
        config = stores_config(sandboxes)
        tap = TapBigCommerce(config=config, catalog=catalog, parse_env_config=False)
        tap._handle_termination(signal.SIGTERM, None)  # as the signal would, at once
        with pytest.raises(SystemExit) as stopped:
            tap.sync_all()
        asked = sum(len(sb.requests) for sb in sandboxes)
    capsys.readouterr()
    assert stopped.value.code == 128 + signal.SIGTERM
    assert asked == 0

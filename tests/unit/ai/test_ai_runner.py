"""The runner with fake plugins: progress, cancel, failures, timeouts, devices, cache, audit."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from medview.ai import device as devices
from medview.ai.jobs import CallbackListener, JobState
from medview.core.errors import PluginError

S = sys.modules["_medview_fake_shared"]


class Recorder:
    """A listener that keeps every event in order."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.lock = threading.Lock()

    def job_state_changed(self, job) -> None:
        with self.lock:
            self.events.append(("state", job.state.value))

    def job_progress(self, job, fraction, message) -> None:
        with self.lock:
            self.events.append(("progress", fraction, message))

    def job_finished(self, job) -> None:
        with self.lock:
            self.events.append(("finished", job.state.value))


def test_progress_arrives_in_order_then_the_result(fakes, make_runner, volume):
    plugin_id, _ = fakes("Ok")
    runner = make_runner()
    recorder = Recorder()
    job = runner.submit(plugin_id, volume, listener=recorder)
    assert job.wait(5)
    assert job.state is JobState.SUCCEEDED, job.error
    progress = [e for e in recorder.events if e[0] == "progress"]
    fractions = [e[1] for e in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [e[2] for e in progress if e[2].startswith("step")] == [f"step {i}" for i in range(1, 6)]
    assert recorder.events[0] == ("state", "queued")
    assert recorder.events[1] == ("state", "running")
    assert recorder.events[-2:] == [("state", "succeeded"), ("finished", "succeeded")]
    result = job.result
    assert result.metadata == {"answer": 42}
    assert result.provenance.plugin_id == plugin_id
    assert result.provenance.device == "cpu"
    assert result.provenance.input_series_uid == "1.2.3.4.5"
    assert result.provenance.outcome == "succeeded"


def test_plugin_sees_read_only_de_identified_input(fakes, make_runner, volume):
    plugin_id, _ = fakes("Ok")
    job = make_runner().submit(plugin_id, volume)
    job.wait(5)
    seen = job.result.findings[0].mask
    assert seen.meta.patient_name == "" and seen.meta.patient_id == ""
    assert seen.meta.series_uid == "1.2.3.4.5"
    assert volume.meta.patient_name == "Secret^Name"  # the caller's volume is untouched


def test_cancel_stops_a_cooperative_job_within_a_second(fakes, make_runner, volume):
    plugin_id, _ = fakes("Cooperative")
    runner = make_runner()
    job = runner.submit(plugin_id, volume)
    deadline = time.monotonic() + 5
    while job.state is not JobState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    started = time.monotonic()
    assert job.cancel()
    assert job.wait(1.0)
    assert time.monotonic() - started < 1.0
    assert job.state is JobState.CANCELLED
    assert "cancelled" in job.error
    assert job.provenance.outcome == "cancelled"


def test_cancel_of_a_queued_job_is_immediate(fakes, make_runner, volume):
    plugin_id, _ = fakes("Counts")
    runner = make_runner(cpu_workers=1)
    first = runner.submit(plugin_id, volume, {"seconds": 0.3})
    second = runner.submit(plugin_id, volume)
    assert second.cancel()
    assert second.wait(0.1) and second.state is JobState.CANCELLED
    assert first.wait(5) and first.state is JobState.SUCCEEDED
    assert not second.cancel()  # already final


def test_raising_and_hanging_plugins_fail_while_another_job_completes(fakes, make_runner, volume):
    raising, _ = fakes("Raises")
    hanging, _ = fakes("Hangs")
    ok, _ = fakes("Counts")
    other, _ = fakes("Counts")
    runner = make_runner(cpu_workers=2)
    hung = runner.submit(hanging, volume, timeout_s=0.5)
    failed = runner.submit(raising, volume)
    fine = runner.submit(ok, volume, {"seconds": 0.2})
    assert failed.wait(5) and failed.state is JobState.FAILED
    assert "RuntimeError: model exploded" in failed.error
    assert hung.wait(3) and hung.state is JobState.FAILED
    assert "timed out after 0.5 s" in hung.error
    assert fine.wait(5) and fine.state is JobState.SUCCEEDED
    # The hung worker was replaced: the pool still runs two jobs at once.
    a = runner.submit(ok, volume, {"seconds": 0.3})
    b = runner.submit(other, volume, {"seconds": 0.3})
    assert a.wait(5) and b.wait(5)
    assert a.state is b.state is JobState.SUCCEEDED


def test_a_job_that_ignores_cancel_is_abandoned_after_the_grace(fakes, make_runner, volume):
    hanging, _ = fakes("Hangs")
    runner = make_runner(cancel_grace_s=0.3)
    job = runner.submit(hanging, volume)
    while not S.hung:
        time.sleep(0.01)
    job.cancel()
    assert job.wait(2) and job.state is JobState.CANCELLED
    assert "abandoned" in job.error


def test_gpu_jobs_are_serialised_per_device_cpu_jobs_run_in_parallel(
    fakes, make_runner, volume, monkeypatch
):
    monkeypatch.setattr(devices, "probe_devices", lambda: ["cuda:0", "cpu"])
    gpu_ids = [fakes("Counts", devices=("cuda", "cpu"))[0] for _ in range(3)]
    cpu_ids = [fakes("Counts")[0] for _ in range(2)]
    runner = make_runner(cpu_workers=2, cache_capacity=8)
    jobs = [runner.submit(pid, volume, {"seconds": 0.2}) for pid in gpu_ids]
    jobs += [runner.submit(pid, volume, {"seconds": 0.4}) for pid in cpu_ids]
    for job in jobs:
        assert job.wait(10) and job.state is JobState.SUCCEEDED, job.error
    assert [j.device for j in jobs] == ["cuda:0"] * 3 + ["cpu"] * 2
    assert S.peak["cuda:0"] == 1
    assert S.peak["cpu"] == 2
    assert jobs[0].result.provenance.device == "cuda:0"


def test_device_choice_honours_request_and_manifest(monkeypatch):
    monkeypatch.setattr(devices, "probe_devices", lambda: ["cuda:0", "mps", "cpu"])
    assert devices.choose_device("auto", ["cuda", "cpu"]) == "cuda:0"
    assert devices.choose_device("auto", ["mps", "cpu"]) == "mps"
    assert devices.choose_device("cpu", ["cuda", "cpu"]) == "cpu"
    assert devices.choose_device("cuda", ["cuda", "cpu"]) == "cuda:0"
    with pytest.raises(PluginError, match="does not support mps"):
        devices.choose_device("mps", ["cuda", "cpu"])
    monkeypatch.setattr(devices, "probe_devices", lambda: ["cpu"])
    assert devices.choose_device("auto", ["cuda", "cpu"]) == "cpu"
    with pytest.raises(PluginError, match="not available"):
        devices.choose_device("cuda", ["cuda", "cpu"])
    with pytest.raises(PluginError, match="cannot run on the CPU"):
        devices.choose_device("cpu", ["cuda"])


def test_out_of_memory_falls_back_to_cpu_when_allowed(fakes, make_runner, volume, monkeypatch):
    monkeypatch.setattr(devices, "probe_devices", lambda: ["cuda:0", "cpu"])
    allowed, _ = fakes("OomOnGpu", devices=("cuda", "cpu"), on_oom=("cpu",))
    refused, _ = fakes("OomOnGpu", devices=("cuda", "cpu"))
    tiles, _ = fakes("OomUntilSmallTiles", devices=("cuda",), on_oom=("smaller-tiles",))
    runner = make_runner()
    job = runner.run(allowed, volume)
    assert job.state is JobState.SUCCEEDED, job.error
    assert job.device == "cpu" and job.provenance.device == "cpu"
    assert job.provenance.attempts == ("cuda:0 (tile scale 1): out of memory",)
    job = runner.run(refused, volume)
    assert job.state is JobState.FAILED
    assert "ran out of memory on cuda:0" in job.error
    job = runner.run(tiles, volume)
    assert job.state is JobState.SUCCEEDED and job.result.metadata == {"tile_scale": 0.5}


def test_models_stay_loaded_and_the_lru_releases_the_oldest(fakes, make_runner, volume):
    a, _ = fakes("Ok")
    b, _ = fakes("Ok")
    runner = make_runner(cache_capacity=1)
    for _ in range(2):
        assert runner.run(a, volume).state is JobState.SUCCEEDED
    assert [e[0] for e in S.events] == ["prepare"]  # prepared once for two runs
    assert runner.run(b, volume).state is JobState.SUCCEEDED
    assert [e[0] for e in S.events] == ["prepare", "release", "prepare"]
    runner.shutdown()
    assert [e[0] for e in S.events][-1] == "release"


def test_results_off_the_input_grid_are_refused(fakes, make_runner, volume):
    plugin_id, _ = fakes("OffGrid")
    job = make_runner().run(plugin_id, volume)
    assert job.state is JobState.FAILED and "not on the input grid" in job.error


def test_submit_refuses_bad_parameters_and_unsuitable_series(fakes, make_runner, volume):
    plugin_id, _ = fakes("Ok")
    runner = make_runner()
    with pytest.raises(PluginError, match=r"must be <= 5\.0"):
        runner.submit(plugin_id, volume, {"seconds": 99})
    with pytest.raises(PluginError, match="unknown parameter 'nope'"):
        runner.submit(plugin_id, volume, {"nope": 1})
    from dataclasses import replace

    mr = volume.with_array(volume.array)
    object.__setattr__(mr, "meta", replace(volume.meta, modality="MR"))
    with pytest.raises(PluginError, match="needs CT images, this series is MR"):
        runner.submit(plugin_id, mr)
    with pytest.raises(PluginError, match=r"no plugin 'missing\.plugin'"):
        runner.submit("missing.plugin", volume)


def test_a_broken_listener_does_not_break_the_job(fakes, make_runner, volume):
    plugin_id, _ = fakes("Ok")

    def explode(*_args):
        raise ValueError("listener bug")

    finished = []
    listener = CallbackListener(on_progress=explode, on_finished=finished.append)
    job = make_runner().submit(plugin_id, volume, listener=listener)
    assert job.wait(5) and job.state is JobState.SUCCEEDED
    assert finished == [job]


def test_audit_log_has_one_line_per_job_with_provenance(fakes, make_runner, volume, tmp_path):
    from medview.core.phi import identifier

    ok, _ = fakes("Ok")
    raising, _ = fakes("Raises")
    runner = make_runner()
    jobs = [runner.run(ok, volume, {"seconds": 0.0}), runner.run(raising, volume)]
    records = runner.audit.read()
    assert len(records) == 2
    assert (tmp_path / "audit.jsonl").read_text().count("\n") == 2
    by_id = {r["job_id"]: r for r in records}
    for job in jobs:
        record = by_id[job.id]
        for key in (
            "plugin_id",
            "plugin_version",
            "weights_sha256",
            "parameters",
            "device",
            "versions",
            "input_series_uid",
            "started",
            "finished",
            "outcome",
        ):
            assert key in record
        assert record["versions"]["medview"]
        assert "torch" in record["versions"]
        # Issue 11 privacy: the audit file holds the installation's pseudonym of the UID.
        assert record["input_series_uid"] == identifier("1.2.3.4.5")
    assert by_id[jobs[0].id]["outcome"] == "succeeded"
    assert by_id[jobs[0].id]["parameters"] == {"seconds": 0.0}
    assert by_id[jobs[1].id]["outcome"] == "failed"
    assert "model exploded" in by_id[jobs[1].id]["error"]


def test_audit_appends_from_many_threads_without_tearing(tmp_path):
    from medview.ai.audit import AuditLog

    log = AuditLog(tmp_path / "a" / "audit.jsonl")
    threads = [
        threading.Thread(target=lambda n=n: [log.append({"n": n, "i": i}) for i in range(20)])
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = log.read()
    assert len(records) == 80
    assert sorted((r["n"], r["i"]) for r in records) == [
        (n, i) for n in range(4) for i in range(20)
    ]


def test_an_explanation_plugin_uses_a_detection_plugins_hook(fakes, make_runner, volume):
    target, _ = fakes("HasHook")
    plain, _ = fakes("Ok")
    explainer, _ = fakes(
        "Explains",
        extra_params='\n[[parameters]]\nname = "target"\ntype = "str"\ndefault = ""\n',
    )
    runner = make_runner(cache_capacity=3)
    job = runner.run(explainer, volume, {"target": target})
    assert job.state is JobState.SUCCEEDED, job.error
    assert job.result.metadata == {"module": "the torch module", "target": 0}
    (saliency,) = job.result.overlays
    assert saliency.volume.shape == volume.shape
    # The target was prepared once, on the explainer's device, and stays loaded.
    assert ("prepare", "HasHook", "cpu") in S.events
    assert (target, "cpu") in runner.cache.loaded()
    job = runner.run(explainer, volume, {"target": plain})
    assert job.state is JobState.FAILED and "offers no explanation hook" in job.error

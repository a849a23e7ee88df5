"""The ``distributed`` group of ``gradcore bench`` (gradcore/bench/distributed.py): its MPI jobs
run end to end on tiny sizes (2 ranks through mpiexec, 1 rank alone), the bandwidths follow
NCCL's definitions, and without MPI the cases are recorded as not measured, with the reason."""
import pytest

import gradcore.distributed as dist
from gradcore.bench import distributed as D
from gradcore.bench import report
from tests.distributed import mpi


def test_the_group_runs_on_two_ranks_and_reports(tmp_path):
    mpi.mpiexec()  # skips (fails in CI) without the [mpi] extra
    rows = report.run_suite(["cpu"], smoke=True, reps=3, only=("distributed",), log=lambda m: None)
    by = {(r["case"], r["params"]): r for r in rows}
    assert set(by) == {("allreduce", "4 KiB"), ("allreduce", "64 KiB"),
                       ("ddp_mlp_step", "32-64-10 b8/rank x1"), ("ddp_mlp_step", "32-64-10 b8/rank x2")}
    for size in ("4 KiB", "64 KiB"):
        r = by["allreduce", size]
        assert set(r["median_s"]) == {"gradcore", "mpi4py"} and not r["failed"], r
        assert r["info"] == {"message_bytes": int(size.split()[0]) * 1024, "ranks": 2}
        for e, t in r["median_s"].items():  # 2 ranks: busbw = algbw x 2 (2 - 1) / 2 = algbw
            assert r["algbw_gbps"][e] == pytest.approx(r["info"]["message_bytes"] / t / 1e9)
            assert r["busbw_gbps"][e] == pytest.approx(r["algbw_gbps"][e])
    one, two = by["ddp_mlp_step", "32-64-10 b8/rank x1"], by["ddp_mlp_step", "32-64-10 b8/rank x2"]
    assert (one["info"]["ranks"], two["info"]["ranks"]) == (1, 2)
    assert one["info"]["gradient_bytes"] == 4 * (32 * 64 + 64 + 64 * 10 + 10)
    assert two["weak_scaling_efficiency"] == pytest.approx(one["median_s"]["gradcore"]
                                                           / two["median_s"]["gradcore"])
    paths = report.write_reports(rows, {"smoke": True}, str(tmp_path))
    text = open(paths[0]).read()
    assert "## Distributed (MPI jobs, 2 ranks on this machine)" in text
    assert "| 64 KiB | 2 |" in text and "| 32-64-10 b8/rank x2 | 2 |" in text
    assert "| device | case |" not in text and not any(p.endswith(".png") for p in paths)


def test_bus_bandwidth_is_nccls():
    rows = [{"case": "allreduce", "params": "1 MiB", "device": "cpu", "median_s": {"gradcore": 1e-3},
             "info": {"message_bytes": 2**20, "ranks": 4}}]
    D.derive(rows)
    assert rows[0]["algbw_gbps"]["gradcore"] == pytest.approx(2**20 / 1e-3 / 1e9)
    assert rows[0]["busbw_gbps"]["gradcore"] == pytest.approx(1.5 * 2**20 / 1e-3 / 1e9)  # 2*3/4


def test_without_mpi_the_cases_say_why(monkeypatch):
    monkeypatch.setattr("gradcore.distributed.launch.find_mpiexec",
                        lambda: (None, "mpi4py is not installed"))
    rows = report.run_suite(["cpu"], smoke=True, reps=3, only=("allreduce",), log=lambda m: None)
    want = "needs the [mpi] extra: mpi4py is not installed"
    assert [r["params"] for r in rows] == ["4 KiB", "64 KiB"]
    for row in rows:
        assert row["median_s"] == {} and row["skipped"] == {"gradcore": want, "mpi4py": want}


def test_time_ranks_alone(monkeypatch):
    monkeypatch.setattr(dist, "_world", None)
    dist.init()
    calls = []
    t = D.time_ranks(lambda: calls.append(1), reps=3, warmup=1, target_s=1e-4)
    assert t["samples"] == 3 and t["inner"] >= 1 and 0 <= t["min_s"] <= t["median_s"]
    assert len(calls) >= 1 + 3 * t["inner"]


def test_the_group_runs_only_when_asked():
    assert not any("ranks" in j for j in report.jobs(["cpu"], quick=True))
    chosen = report.jobs(["cpu"], quick=True, only=("distributed", "matmul"))
    assert {j["case"] for j in chosen} == {"allreduce", "ddp_mlp_step", "matmul"}

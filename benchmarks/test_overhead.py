"""Per-op overhead: forward + backward of a chain of 100 ops on 4x4 tensors (target: <= 2.5x
PyTorch CPU eager), and the report command in its quickest form."""
from gradcore.bench import workloads as W


def test_chain_100_ops(measure, engine, device):
    measure(f"chain100 {device}", W.chain, engine, device, n_ops=100)


def test_bench_command_writes_reports(tmp_path):
    """`gradcore bench --quick` machinery on one tiny case: table, JSON and chart are written."""
    from gradcore.bench import report

    rows = report.run_suite(devices=["cpu"], quick=True, reps=3, log=lambda *a: None,
                            only=("chain100", "copy"))
    paths = report.write_reports(rows, report.environment(), str(tmp_path))
    text = open(paths[0]).read()
    assert "chain100" in text and "| cpu |" in text
    assert any(p.endswith(".png") for p in paths) and any(p.endswith(".json") for p in paths)

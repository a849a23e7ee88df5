"""The ``gradcore`` command line (gradcore/cli.py): every option of every subcommand is checked
by argparse, which exits with status 2 and names the option, before any work starts."""
import pytest

import gradcore.train
from gradcore import cli


@pytest.fixture
def reached(monkeypatch):
    """Replaces the work behind each subcommand by a recorder: nothing trains or benchmarks."""
    calls = []

    def record(what):
        def fake(arg, **kw):
            calls.append((what, arg))
            return {"test_accuracy": 0.5} if what == "train" else 0
        return fake

    monkeypatch.setattr(gradcore.train, "run", record("train"))
    monkeypatch.setattr("gradcore.bench.run_cli", record("bench"))
    return calls


BAD = [  # argv, the option the error names, what it says
    (["train", "--epochs", "0"], "--epochs", "positive integer"),  # was a TypeError after training
    (["train", "--epochs", "2.5"], "--epochs", "positive integer"),
    (["train", "--batch-size", "-5"], "--batch-size", "non-negative integer"),  # was full-batch
    (["train", "--lr", "0"], "--lr", "positive finite"),
    (["train", "--lr", "nan"], "--lr", "positive finite"),
    (["train", "--lr", "inf"], "--lr", "positive finite"),
    (["train", "--momentum", "1"], "--momentum", "[0, 1)"),
    (["train", "--momentum", "-0.1"], "--momentum", "[0, 1)"),
    (["train", "--weight-decay", "-0.001"], "--weight-decay", ">= 0"),
    (["train", "--warmup", "-1"], "--warmup", "non-negative integer"),
    (["train", "--seed", "-1"], "--seed", "non-negative integer"),
    (["train", "--limit", "0"], "--limit", "positive integer"),
    (["train", "--hidden", "64,-1"], "--hidden", "positive"),
    (["train", "--device", "gpu"], "--device", "unknown device 'gpu'"),
    (["train", "--data-dir", "no-such-dir"], "--data-dir", "existing directory"),
    (["train", "--checkpoint", "no-such-dir/m.ckpt"], "--checkpoint", "existing directory"),
    (["train", "--checkpoint", "."], "--checkpoint", "existing directory"),  # a folder, not a file
    (["train", "--plot", "no-such-dir/p.png"], "--plot", "existing directory"),
    (["train", "--activation", "gelu"], "--activation", "invalid choice"),
    (["train", "--nesterov", "--momentum", "0"], "--nesterov", "--momentum > 0"),
    (["train", "--nesterov", "--optimizer", "adam"], "--nesterov", "--optimizer sgd"),
    (["train", "--resume", "--checkpoint", "absent.ckpt"], "--resume", "existing --checkpoint"),
    (["bench", "--out", "a-file"], "--out", "not an existing file"),
]


@pytest.mark.parametrize("argv, option, says", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_values_are_argparse_errors(argv, option, says, reached, capsys, tmp_path,
                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert f"gradcore {argv[0]}: error: " in err and option in err and says in err, err
    assert reached == []  # refused before any work


def test_good_values_reach_the_job(reached, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "m.ckpt").write_bytes(b"")
    assert cli.main(["train", "--epochs", "1", "--batch-size", "0", "--lr", "1e-3",
                     "--momentum", "0", "--weight-decay", "0", "--warmup", "0", "--seed", "0",
                     "--limit", "10", "--device", "cpu", "--data-dir", "data", "--checkpoint",
                     "m.ckpt", "--resume", "--plot", "p.png", "--hidden", "8,4"]) == 0
    (what, cfg), = reached
    assert what == "train" and cfg.batch_size is None and cfg.epochs == 1  # 0: full batch
    assert cfg.hidden == (8, 4) and cfg.lr == 1e-3 and cfg.checkpoint == "m.ckpt"
    assert cli.main(["train", "--checkpoint", ""]) == 0  # '' skips saving
    assert reached[-1][1].checkpoint is None
    assert cli.main(["bench", "--out", "new/folder", "--quick"]) == 0
    assert reached[-1][0] == "bench" and reached[-1][1].out == "new/folder"

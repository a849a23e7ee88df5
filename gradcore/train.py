"""The training job behind ``gradcore train``: an MLP classifier trained with mini-batch SGD (or
Adam), evaluated each epoch, checkpointed atomically each epoch and resumable exactly.

The same job runs on N ranks (``gradcore train --nproc N`` or ``mpiexec -n N gradcore train``):
each epoch a :class:`~gradcore.data.DistributedSampler` (seeded, epoch-dependent) deals every
rank an equal share of one common permutation, each rank takes ``batch_size`` rows of its share
per step (the global batch is ``batch_size`` x N), and ``DistributedDataParallel`` averages the
gradients. One process uses the same sampler with N = 1, so a run on N ranks sees the same
global batches as one process given ``batch_size`` x N, and trains the same up to the order of
summation. Rank 0 alone prints, plots and writes the checkpoint.

>>> import gradcore as gc
>>> cfg = gc.train.TrainConfig(hidden=(32,), epochs=1, checkpoint=None, progress=False, limit=512)
>>> result = gc.train.run(cfg, log=lambda *a: None)
>>> 0.0 <= result["test_accuracy"] <= 1.0
True
"""
from __future__ import annotations

import dataclasses
import signal
import time

import numpy

from gradcore import backend, cuda, io, nn, optim, rng
from gradcore import distributed as dist
from gradcore.compile import compile as compile_step
from gradcore.autograd.mode import no_grad
from gradcore.creation import tensor
from gradcore.data import DataLoader, DistributedSampler, datasets

__all__ = ["TrainConfig", "run", "evaluate", "build_model", "build_optimizer", "train_step"]


@dataclasses.dataclass
class TrainConfig:
    """Every option of ``gradcore train`` (see ``gradcore train --help``)."""

    hidden: tuple = (256,)
    activation: str = "relu"
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 10
    schedule: str = "none"
    warmup: int = 0
    device: str | None = None
    seed: int = 0
    data_dir: str | None = None
    checkpoint: str | None = "gradcore-mnist.ckpt"
    resume: bool = False
    plot: str | None = None
    progress: bool = True
    limit: int | None = None  # use only the first N training samples (quick runs, tests)
    compile: bool = False  # trace the training step once with gc.compile, replay it after


def load_data(cfg):
    """(x_train, y_train, x_test, y_test) as NumPy arrays: bundled MNIST-5k or IDX files."""
    if cfg.data_dir:
        x_tr, y_tr = datasets.load_idx_dataset(cfg.data_dir, "train")
        x_te, y_te = datasets.load_idx_dataset(cfg.data_dir, "test")
    else:
        x_tr, y_tr = datasets.load_mnist5k("train")
        x_te, y_te = datasets.load_mnist5k("test")
    if cfg.limit:
        x_tr, y_tr = x_tr[:cfg.limit], y_tr[:cfg.limit]
    return x_tr, y_tr, x_te, y_te


def build_model(cfg, n_in, n_out, device):
    """The MLP ``n_in -> hidden... -> n_out`` on ``device``."""
    return nn.MLP([n_in, *cfg.hidden, n_out], activation=cfg.activation, device=device)


def build_optimizer(cfg, model):
    """SGD (plain / momentum / Nesterov), Adam or AdamW from the config."""
    if cfg.optimizer == "sgd":
        return optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                         nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)
    if cfg.optimizer in ("adam", "adamw"):
        cls = optim.Adam if cfg.optimizer == "adam" else optim.AdamW
        return cls(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"train: unknown optimizer {cfg.optimizer!r}; expected sgd, adam or adamw")


def build_schedule(cfg, opt):
    """The learning-rate schedule (stepped once per epoch), or None."""
    after = None
    if cfg.schedule == "step":
        after = optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.epochs // 3), gamma=0.3)
    elif cfg.schedule == "cosine":
        after = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs - cfg.warmup))
    elif cfg.schedule != "none":
        raise ValueError(f"train: unknown schedule {cfg.schedule!r}; expected none, step or cosine")
    if cfg.warmup:
        return optim.lr_scheduler.LinearWarmup(opt, cfg.warmup, start_factor=0.1, after=after)
    return after


def evaluate(model, x, y, device, batch_size=1000):
    """(mean cross-entropy, accuracy) of ``model`` on arrays ``x``, ``y``.

    In a job of several ranks (:mod:`gradcore.distributed`), every rank evaluates its own rows
    (``rank, rank + N, ...``, no sample twice) and the sums are all-reduced: every rank returns
    the metrics over all of ``x``, with the correct count exactly the one-process count."""
    rank, world = _world()
    x, y = x[rank::world], y[rank::world]
    total_loss, correct = 0.0, 0
    with no_grad():
        for xb, yb in DataLoader(x, y, batch_size=batch_size, device=device):
            logits = model(xb)
            total_loss += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
            correct += int((logits.argmax(axis=1) == yb).sum().item())
    total_loss, correct, n = _sum_over_ranks(total_loss, correct, len(y))
    return total_loss / n, correct / n


def _world():
    """(rank, world size); (0, 1) when :mod:`gradcore.distributed` was not initialized."""
    if not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def _sum_over_ranks(*values):
    """``values`` (numbers) summed over the ranks, in one all-reduce (float64: counts stay exact
    up to 2**53)."""
    if _world()[1] == 1:
        return values
    t = dist.all_reduce(tensor(numpy.array(values, numpy.float64), device="cpu"), op="sum")
    return tuple(t.tolist())


def _rank_device(cfg, local_rank):
    """This rank's device: ``--device cuda`` (or the default, when it is a GPU) means one GPU per
    rank on each machine, ``cuda:{local rank % GPUs}`` (NCCL refuses two ranks on one GPU);
    ``cuda:N`` and ``cpu`` are taken as given."""
    device = backend.device(cfg.device) if cfg.device else backend.get_default_device()
    if device.type == "cuda" and cfg.device in (None, "cuda") and _world()[1] > 1:
        device = backend.device(f"cuda:{local_rank % cuda.device_count()}")
    return device


def _progress(cfg, total, epoch):
    if not cfg.progress:
        return None
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415 (optional extra)
    except ImportError:
        return None
    # disable=None: no bar when stderr is not a terminal (logs and CI get the epoch lines only)
    return tqdm(total=total, desc=f"epoch {epoch}/{cfg.epochs}", unit="sample", leave=False,
                mininterval=0.25, disable=None)


def run(cfg, log=print):
    """Train as configured; returns a dict with the history and final test metrics.

    Under ``mpiexec -n N`` this is one rank of N (see the module docstring); ``log`` is called
    on rank 0 only."""
    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    if rank != 0:
        log = _silent
    rng.manual_seed(cfg.seed)
    device = _rank_device(cfg, dist.get_local_rank())
    x_tr, y_tr, x_te, y_te = load_data(cfg)
    sampler = DistributedSampler(len(y_tr), seed=cfg.seed)
    model = build_model(cfg, x_tr.shape[1], int(max(y_tr.max(), y_te.max())) + 1, device)
    state = None
    if cfg.resume:
        if not cfg.checkpoint:
            raise ValueError("train: --resume needs a checkpoint path")
        state = io.load(cfg.checkpoint, device=device)  # every rank reads the same file
        missing = {"model", "optimizer", "history", "epoch"} - set(state)
        if missing:  # e.g. a plain safetensors file: weights only, no training state
            raise ValueError(f"train: --resume: {cfg.checkpoint} is not a checkpoint of "
                             f"`gradcore train` (it lacks {', '.join(sorted(missing))})")
        model.load_state_dict(state["model"])
    ddp = nn.DistributedDataParallel(model)  # one process: the model itself, nothing exchanged
    opt = build_optimizer(cfg, ddp)
    schedule = build_schedule(cfg, opt)
    history, start_epoch = [], 1
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        if schedule is not None and state.get("schedule"):
            schedule.load_state_dict(state["schedule"])
        history = list(state["history"])
        start_epoch = int(state["epoch"]) + 1
        log(f"resumed from {cfg.checkpoint} after epoch {start_epoch - 1}")
        saved_world = int(state.get("world_size", 1))
        if _global(cfg, saved_world) != _global(cfg, world):
            log(f"note: the checkpoint was written by {saved_world} rank(s), this run has "
                f"{world}: the global batch changes from {_global(cfg, saved_world)} to "
                f"{_global(cfg, world)}")
    batch = (f"batch {'full shard' if cfg.batch_size is None else cfg.batch_size} per rank "
             f"({_global(cfg, world)} global)" if world > 1
             else "full batch" if cfg.batch_size is None else f"batch {cfg.batch_size}")
    log(f"training {model.sizes} ({cfg.activation}) with {type(opt).__name__} on {device}"
        + (f" x {world} ranks" if world > 1 else "")
        + f": {len(y_tr)} train / {len(y_te)} test samples, {batch}")
    step = train_step(ddp, opt)
    if cfg.compile:
        step = compile_step(step)  # one trace per batch shape (the last batch may be smaller)
    with _TerminateAsInterrupt():
        for epoch in range(start_epoch, cfg.epochs + 1):
            sampler.set_epoch(epoch)  # the same permutation on every rank, a new one per epoch
            history.append(_one_epoch(cfg, ddp, step, sampler, (x_tr, y_tr), epoch, x_te, y_te,
                                      device, log, rank))
            if schedule is not None:
                schedule.step()
            if cfg.checkpoint and rank == 0:
                io.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                         "sampler": {"seed": cfg.seed, "epoch": epoch},
                         "schedule": schedule.state_dict() if schedule is not None else {},
                         "epoch": epoch, "history": history, "world_size": world,
                         "config": dataclasses.asdict(cfg)}, cfg.checkpoint)
    result = {"history": history, "test_loss": history[-1]["test_loss"] if history else None,
              "test_accuracy": history[-1]["test_accuracy"] if history else None,
              "device": str(device), "world_size": world}
    if cfg.plot and rank == 0:
        plot_history(history, cfg.plot)
        log(f"wrote {cfg.plot}")
    return result


def _global(cfg, world):
    return "full batch" if cfg.batch_size is None else cfg.batch_size * world


def _silent(*args, **kwargs):
    pass


def train_step(ddp, opt):
    """One mini-batch step of ``ddp`` (a :class:`gradcore.nn.DistributedDataParallel`; with one
    process it exchanges nothing): ``step(xb, yb) -> (loss, number correct)`` as tensors (no
    host read inside, so ``gc.compile`` can trace it)."""
    def step(xb, yb):
        opt.zero_grad()
        logits = ddp(xb)
        loss = nn.functional.cross_entropy(logits, yb)
        loss.backward()
        ddp.step(opt)  # average the gradients over the ranks, then step
        return loss, (logits.argmax(axis=1) == yb).sum()
    return step


def _one_epoch(cfg, ddp, step, sampler, train, epoch, x_te, y_te, device, log, rank):
    loader = DataLoader(*sampler.shard(*train), batch_size=cfg.batch_size, device=device)
    bar = _progress(cfg, loader.num_samples, epoch) if rank == 0 else None
    ddp.train()
    seen, loss_sum, correct = 0, 0.0, 0
    started = time.perf_counter()
    for xb, yb in loader:
        loss, right = step(xb, yb)
        n = len(yb)
        seen += n
        loss_sum += loss.item() * n
        correct += int(right.item())
        if bar is not None:
            bar.update(n)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}",
                            rate=f"{seen / (time.perf_counter() - started):.0f}/s")
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - started
    loss_sum, correct, seen = _sum_over_ranks(loss_sum, correct, seen)  # the global epoch
    ddp.eval()
    test_loss, test_acc = evaluate(ddp.module, x_te, y_te, device)
    row = {"epoch": epoch, "train_loss": loss_sum / max(seen, 1), "train_accuracy": correct / max(seen, 1),
           "test_loss": test_loss, "test_accuracy": test_acc, "samples_per_s": seen / elapsed}
    log(f"epoch {epoch:3d}  loss {row['train_loss']:.4f}  acc {row['train_accuracy']:.4f}  "
        f"test loss {test_loss:.4f}  test acc {test_acc:.4f}  {row['samples_per_s']:.0f} samples/s")
    return row


def plot_history(history, path):
    """Write a PNG of train/test loss and accuracy per epoch (needs matplotlib)."""
    try:
        import matplotlib  # noqa: PLC0415 (optional extra)
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as e:
        raise RuntimeError("--plot needs matplotlib: pip install 'gradcore[plot]'") from e
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax_loss.plot(epochs, [h["test_loss"] for h in history], label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.plot(epochs, [h["train_accuracy"] for h in history], label="train")
    ax_acc.plot(epochs, [h["test_accuracy"] for h in history], label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


class _TerminateAsInterrupt:
    """Turn SIGTERM into KeyboardInterrupt while training, so both stop the loop the same way;
    the last checkpoint was written atomically and stays valid."""

    def __enter__(self):
        self.prev = None
        try:
            self.prev = signal.signal(signal.SIGTERM, self._raise)
        except ValueError:  # not the main thread: leave signals alone
            pass
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc):
        if self.prev is not None:
            signal.signal(signal.SIGTERM, self.prev)
        return False

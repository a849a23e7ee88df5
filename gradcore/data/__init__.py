"""``gc.data``: feeding training loops. A :class:`DataLoader` for batches of Tensors on a device,
and dataset readers that return NumPy arrays (the packaged MNIST subset, MNIST-style IDX files).

>>> import gradcore as gc
>>> x, y = gc.data.load_mnist5k("test", test_size=100)
>>> xb, yb = next(iter(gc.data.DataLoader(x, y, batch_size=32, shuffle=True, seed=0,
...                                       device="cpu")))
>>> xb.shape, yb.dtype
((32, 784), dtype('int64'))
"""
from gradcore.data.datasets import (MNIST5K_SHA256, load_idx_dataset, load_mnist5k, read_idx,
                                    stratified_split)
from gradcore.data.dataset import Dataset, TensorDataset, collate
from gradcore.data.loader import DataLoader
from gradcore.data.sampler import DistributedSampler

__all__ = ["DataLoader", "DistributedSampler", "Dataset", "TensorDataset", "collate", "load_mnist5k", "stratified_split", "read_idx", "load_idx_dataset",
           "MNIST5K_SHA256"]

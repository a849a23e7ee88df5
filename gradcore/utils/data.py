"""``torch.utils.data``'s name for :mod:`gradcore.data` (the same objects, not copies)."""
from gradcore.data import (DataLoader, Dataset, DistributedSampler, TensorDataset, collate)

__all__ = ["DataLoader", "Dataset", "DistributedSampler", "TensorDataset", "collate"]

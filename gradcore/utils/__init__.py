"""``gc.utils.data``: the name PyTorch code imports its data tools under (``torch.utils.data``).

It is :mod:`gradcore.data` under a second name, so ``from gradcore.utils.data import
DataLoader, TensorDataset`` works unchanged after ``torch`` -> ``gradcore``.

>>> import gradcore as gc
>>> gc.utils.data.DataLoader is gc.data.DataLoader
True
"""
from gradcore.utils import data

__all__ = ["data"]

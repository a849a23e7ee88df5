"""Tests of gradcore.data: the DataLoader and the datasets."""

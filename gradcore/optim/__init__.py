"""Optimizers (one fused update per flat parameter buffer) and learning-rate schedules."""
from gradcore.optim import lr_scheduler
from gradcore.optim.adaptive import Adadelta, Adagrad, RMSprop
from gradcore.optim.optimizer import SGD, Adam, AdamW, Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "lr_scheduler"]

"""Neural-network building blocks: Module, Parameter, layers, initializers, losses."""
from gradcore.nn import functional, init, parallel, utils
from gradcore.nn.activation import GELU, LogSoftmax, SiLU, Softmax, Softplus
from gradcore.nn.basic import Dropout, Embedding, Flatten, Unflatten
from gradcore.nn.containers import ModuleDict, ModuleList
from gradcore.nn.flat import FlatParameters, pack_parameters
from gradcore.nn.layers import (MLP, BCEWithLogitsLoss, CrossEntropyLoss, Identity, LeakyReLU,
                                Linear, MSELoss, ReLU, Sequential, Sigmoid, Tanh)
from gradcore.nn.losses import (BCELoss, HuberLoss, KLDivLoss, L1Loss, NLLLoss, SmoothL1Loss)
from gradcore.nn.module import Module
from gradcore.nn.monitor import GradNormMonitor
from gradcore.nn.normalization import BatchNorm1d, LayerNorm
from gradcore.nn.parallel import DistributedDataParallel
from gradcore.nn.parameter import Parameter

__all__ = ["Module", "Parameter", "Linear", "Identity", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "GELU", "SiLU", "Softplus", "Softmax", "LogSoftmax", "Flatten", "Unflatten",
           "Dropout", "Embedding", "LayerNorm", "BatchNorm1d", "Sequential", "ModuleList",
           "ModuleDict", "MLP", "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss", "NLLLoss",
           "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "KLDivLoss", "FlatParameters",
           "pack_parameters", "GradNormMonitor", "DistributedDataParallel", "functional", "init",
           "parallel", "utils"]

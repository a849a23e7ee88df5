"""Neural-network building blocks: Module, Parameter, layers, initializers, losses."""
from gradcore.nn import functional, init, parallel
from gradcore.nn.flat import FlatParameters, pack_parameters
from gradcore.nn.layers import (MLP, BCEWithLogitsLoss, CrossEntropyLoss, Identity, LeakyReLU,
                                Linear, MSELoss, ReLU, Sequential, Sigmoid, Tanh)
from gradcore.nn.module import Module
from gradcore.nn.monitor import GradNormMonitor
from gradcore.nn.parallel import DistributedDataParallel
from gradcore.nn.parameter import Parameter

__all__ = ["Module", "Parameter", "Linear", "Identity", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "Sequential", "MLP", "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss",
           "FlatParameters", "pack_parameters", "GradNormMonitor", "DistributedDataParallel",
           "functional", "init", "parallel"]

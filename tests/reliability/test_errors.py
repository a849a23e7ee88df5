"""Bad input raises a clear exception: the right type, and a message that names the op or function
and the offending values (shapes, dtypes, devices, keys, values).

Each row of ``CASES`` is ``(id, call, exception type, substrings the message must contain)``;
``call`` builds its own inputs, so rows are independent. State left behind by failed calls is
checked in test_consistency.py, checkpoint files in test_checkpoint_files.py, devices that
are not there in test_devices.py.
"""
import numpy as np
import pytest

import gradcore as gc
from gradcore import train

F = gc.nn.functional


def _x(*shape, requires_grad=False):
    return gc.ones(*shape, requires_grad=requires_grad)


def _labels(*values):
    return gc.tensor(np.asarray(values, dtype=np.int64))


def _backward_twice():
    x = _x(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _inplace_saved_input():  # the example: x changed under no_grad after y = x * x
    x = _x(2, requires_grad=True)
    y = x * x
    with gc.no_grad():
        x.add_(1)
    y.sum().backward()


def _inplace_saved_output():
    x = _x(2, requires_grad=True)
    y = gc.exp(x)
    with gc.no_grad():
        y.mul_(2)
    y.sum().backward()


def _optimizer_step_between_forward_and_backward():
    model = gc.nn.MLP([3, 4, 2])
    opt = gc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    F.cross_entropy(model(_x(5, 3)), _labels(1, 1, 0, 1, 0)).backward()  # an earlier batch
    loss = F.cross_entropy(model(_x(5, 3)), _labels(0, 1, 0, 1, 0))
    opt.step()  # changes the weights the forward saved
    loss.backward()


class _WrongShapeGrad(gc.Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gc.ones(3)  # the input has shape (2,)


def _custom_backward_wrong_shape():
    x = _x(2, requires_grad=True)
    _WrongShapeGrad()(x).sum().backward()


def _sgd(**kw):
    return gc.optim.SGD(gc.nn.Linear(3, 2).parameters(), **{"lr": 0.1, **kw})


def _adam(cls=gc.optim.Adam, **kw):
    return cls(gc.nn.Linear(3, 2).parameters(), **kw)


def _sgd_state(**group):
    """A valid SGD-with-momentum state dict for Linear(3, 2), with ``group`` entries changed."""
    state = {0: {"step": 1, "momentum_buffer": np.zeros((2, 3), np.float32)},
             1: {"step": 1, "momentum_buffer": np.zeros(2, np.float32)}}
    g = {"params": [0, 1], "lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": False,
         "weight_decay": 0.0}
    return {"state": state, "param_groups": [{**g, **group}], "step_count": 1}


def _opt_load(state_dict):
    opt = gc.optim.SGD(gc.nn.Linear(3, 2).parameters(), lr=0.1, momentum=0.9)
    opt.load_state_dict(state_dict)


def _bad_state_shape():
    sd = _sgd_state()
    sd["state"][0]["momentum_buffer"] = np.zeros((3, 3), np.float32)
    _opt_load(sd)


def _missing_state_entry():
    sd = _sgd_state()
    del sd["state"][1]["momentum_buffer"]
    _opt_load(sd)


def _module_load(state_dict):
    gc.nn.Linear(3, 2).load_state_dict(state_dict)


W, B = np.zeros((2, 3), np.float32), np.zeros(2, np.float32)

CASES = [
    # ---- shapes that do not broadcast / do not multiply ------------------------------------------
    ("add-broadcast", lambda: _x(2, 3) + _x(4, 5), ValueError, ["add", "(2, 3)", "(4, 5)"]),
    ("sub-broadcast", lambda: _x(2, 3) - _x(3, 2), ValueError, ["sub", "(2, 3)", "(3, 2)"]),
    ("mul-broadcast", lambda: _x(2, 3) * _x(2), ValueError, ["mul", "(2, 3)", "(2,)"]),
    ("div-broadcast", lambda: _x(4) / _x(3), ValueError, ["div", "(4,)", "(3,)"]),
    ("pow-broadcast", lambda: _x(2, 3) ** _x(2, 2), ValueError, ["pow", "(2, 3)", "(2, 2)"]),
    ("maximum-broadcast", lambda: gc.maximum(_x(2, 3), _x(4, 5)), ValueError,
     ["maximum", "(2, 3)", "(4, 5)"]),
    ("where-broadcast", lambda: gc.where(_x(2, 2) > 0, _x(2, 3), 0.0), ValueError,
     ["where", "(2, 2)", "(2, 3)"]),
    ("matmul-inner", lambda: _x(2, 3) @ _x(4, 5), ValueError, ["matmul", "(2, 3)", "(4, 5)"]),
    ("matmul-0d", lambda: gc.matmul(_x(2, 3), gc.tensor(2.0)), ValueError,
     ["matmul", "0-d", "(2, 3)"]),
    ("linear-weight", lambda: gc.linear(_x(2, 3), _x(4, 5)), ValueError,
     ["linear", "(2, 3)", "(4, 5)"]),
    ("fused-linear-bias", lambda: F.linear(_x(2, 3), _x(4, 3), _x(5), activation="relu"),
     ValueError, ["linear", "(4, 3)", "(5,)"]),
    ("Linear-input", lambda: gc.nn.Linear(3, 2)(_x(4, 5)), ValueError,
     ["linear", "(4, 5)", "(2, 3)"]),
    ("mse-shapes", lambda: F.mse_loss(_x(2), _x(3)), ValueError, ["mse_loss", "(2,)", "(3,)"]),
    ("bce-shapes", lambda: F.binary_cross_entropy_with_logits(_x(2, 1), _x(2)), ValueError,
     ["binary_cross_entropy_with_logits", "(2, 1)", "(2,)"]),
    # ---- dtypes ----------------------------------------------------------------------------------
    ("requires-grad-int", lambda: gc.tensor([1, 2], requires_grad=True), TypeError,
     ["requires_grad", "int64", "(2,)"]),
    ("requires-grad_-int", lambda: gc.arange(3).requires_grad_(), TypeError,
     ["requires_grad_", "int64"]),
    ("zeros-int-requires-grad", lambda: gc.zeros(3, dtype="int32", requires_grad=True),
     TypeError, ["requires_grad", "int32"]),
    ("grad-wrt-int", lambda: gc.grad(lambda x: x.sum())(gc.arange(3)), TypeError,
     ["grad", "int64"]),
    ("ce-float-labels", lambda: F.cross_entropy(_x(2, 3), gc.tensor([0.0, 1.0])), TypeError,
     ["cross_entropy", "labels", "float32"]),
    ("ce-negative-label", lambda: F.cross_entropy(_x(2, 3), _labels(0, -1)), ValueError,
     ["cross_entropy", "label -1", "3 classes"]),
    ("ce-label-equals-C", lambda: F.cross_entropy(_x(2, 3), _labels(3, 0)), ValueError,
     ["cross_entropy", "label 3", "3 classes"]),
    ("ce-label-above-C", lambda: F.cross_entropy(_x(2, 3), _labels(1, 70)), ValueError,
     ["cross_entropy", "label 70", "0..2"]),
    ("ce-int-logits", lambda: F.cross_entropy(gc.zeros(2, 3, dtype="int64"), _labels(0, 1)),
     TypeError, ["cross_entropy", "int64", "(2, 3)"]),
    ("ce-3d-logits", lambda: F.cross_entropy(_x(2, 3, 4), _labels(0, 1)), ValueError,
     ["cross_entropy", "(2, 3, 4)"]),
    ("ce-label-count", lambda: F.cross_entropy(_x(2, 3), _labels(0, 1, 2)), ValueError,
     ["cross_entropy", "(3,)", "(2, 3)"]),
    ("tensor-of-strings", lambda: gc.tensor(["a", "b"]), TypeError, ["tensor", "<U1"]),
    ("default-dtype-int", lambda: gc.set_default_dtype("int32"), TypeError,
     ["set_default_dtype", "int32"]),
    ("astype-unknown", lambda: _x(2).astype("float128x"), TypeError, ["astype", "'float128x'"]),
    ("gradcheck-float32", lambda: gc.gradcheck(gc.tanh, (_x(3),)), TypeError,
     ["gradcheck", "float32"]),
    # ---- empty batches and zero-size tensors -----------------------------------------------------
    ("max-empty", lambda: gc.max(gc.zeros(0)), ValueError, ["max", "(0,)"]),
    ("min-empty-axis", lambda: gc.zeros(0, 3).min(axis=1), ValueError, ["min", "(0, 3)"]),
    ("loader-empty", lambda: gc.data.DataLoader(np.zeros((0, 2)), device="cpu"), ValueError,
     ["DataLoader", "empty", "(0, 2)"]),
    ("loader-batch-0", lambda: gc.data.DataLoader(np.zeros((3, 2)), batch_size=0, device="cpu"),
     ValueError, ["DataLoader", "batch_size", "got 0"]),
    ("loader-drop-all", lambda: gc.data.DataLoader(np.zeros((3, 2)), batch_size=4, drop_last=True,
                                                   device="cpu"),
     ValueError, ["DataLoader", "batch_size=4", "3 samples"]),
    ("loader-lengths", lambda: gc.data.DataLoader(np.zeros((3, 2)), np.zeros(4), device="cpu"),
     ValueError, ["DataLoader", "(3, 2)", "(4,)"]),
    ("item-many", lambda: _x(2, 3).item(), ValueError, ["item", "6 elements", "(2, 3)"]),
    # ---- backward misuse -------------------------------------------------------------------------
    ("backward-twice", _backward_twice, RuntimeError, ["Mul.backward", "second time",
                                                       "retain_graph=True"]),
    ("backward-no-grad", lambda: _x(2).sum().backward(), RuntimeError,
     ["backward", "does not require grad"]),
    ("backward-non-scalar", lambda: (_x(2, requires_grad=True) * 2).backward(), RuntimeError,
     ["backward", "(2,)", "gradient"]),
    ("backward-gradient-shape", lambda: (_x(2, requires_grad=True) * 2).backward(_x(3)),
     ValueError, ["backward", "(3,)", "(2,)"]),
    ("custom-backward-shape", _custom_backward_wrong_shape, RuntimeError,
     ["backward", "(3,)", "(2,)"]),
    ("inplace-saved-input", _inplace_saved_input, RuntimeError,
     ["Mul.backward", "modified in place", "version 1, expected 0"]),
    ("inplace-saved-output", _inplace_saved_output, RuntimeError,
     ["Exp.backward", "modified in place", "(2,)"]),
    ("optimizer-step-before-backward", _optimizer_step_between_forward_and_backward,
     RuntimeError, ["LinearAct.backward", "modified in place"]),
    ("inplace-while-recording", lambda: _x(2, requires_grad=True).add_(1), RuntimeError,
     ["add_", "requires grad", "(2,)"]),
    ("vjp-cotangent-shape", lambda: gc.vjp(lambda x: x * 2, _x(2))[1](_x(3)), ValueError,
     ["vjp", "(3,)", "(2,)"]),
    ("jvp-tangent-shape", lambda: gc.jvp(gc.sin, (_x(3),), (_x(2),)), ValueError,
     ["jvp", "(2,)", "(3,)"]),
    ("grad-non-scalar", lambda: gc.grad(lambda x: x * 2)(_x(3)), ValueError,
     ["grad", "(3,)"]),
    # ---- state dicts -----------------------------------------------------------------------------
    ("module-missing-key", lambda: _module_load({"weight": W}), KeyError,
     ["load_state_dict", "missing keys ['bias']"]),
    ("module-unexpected-key", lambda: _module_load({"weight": W, "bias": B, "scale": B}),
     KeyError, ["load_state_dict", "unexpected keys ['scale']"]),
    ("module-wrong-shape", lambda: _module_load({"weight": np.zeros((3, 3)), "bias": B}),
     ValueError, ["load_state_dict", "'weight'", "(3, 3)", "(2, 3)"]),
    ("optim-missing-key", lambda: _opt_load({"state": {}}), KeyError,
     ["SGD.load_state_dict", "param_groups"]),
    ("optim-group-count", lambda: _opt_load({"state": {}, "param_groups": []}), ValueError,
     ["SGD.load_state_dict", "0 parameter groups", "1 here"]),
    ("optim-param-count", lambda: _opt_load(_sgd_state(params=[0])), ValueError,
     ["SGD.load_state_dict", "1 parameters", "2 here"]),
    ("optim-state-shape", _bad_state_shape, ValueError,
     ["SGD.load_state_dict", "'momentum_buffer'", "(3, 3)", "(2, 3)"]),
    ("optim-state-key", _missing_state_entry, KeyError,
     ["SGD.load_state_dict", "parameter(s) [1]", "momentum_buffer"]),
    ("optim-bad-hyper", lambda: _opt_load(_sgd_state(lr=-0.5)), ValueError, ["SGD", "lr=-0.5"]),
    # ---- devices ---------------------------------------------------------------------------------
    ("device-unknown", lambda: gc.tensor([1.0], device="tpu"), ValueError, ["device", "'tpu'"]),
    ("device-bad-index", lambda: gc.device("cuda:x"), ValueError, ["device", "'cuda:x'"]),
    ("device-not-a-string", lambda: gc.device(3), TypeError, ["device", "int"]),
    ("to-unknown", lambda: _x(2).to("gpu"), ValueError, ["to", "'gpu'"]),
    ("default-device-unknown", lambda: gc.set_default_device("npu:0"), ValueError,
     ["device", "'npu:0'"]),
    # ---- hyperparameters -------------------------------------------------------------------------
    ("sgd-negative-lr", lambda: _sgd(lr=-0.1), ValueError, ["SGD", "lr=-0.1"]),
    ("sgd-nan-lr", lambda: _sgd(lr=float("nan")), ValueError, ["SGD", "lr=nan"]),
    ("sgd-momentum-1", lambda: _sgd(momentum=1.0), ValueError, ["SGD", "momentum", "1.0"]),
    ("sgd-momentum-negative", lambda: _sgd(momentum=-0.5), ValueError,
     ["SGD", "momentum", "-0.5"]),
    ("sgd-nesterov-no-momentum", lambda: _sgd(nesterov=True), ValueError,
     ["SGD", "nesterov", "momentum=0.0"]),
    ("sgd-nesterov-dampening", lambda: _sgd(nesterov=True, momentum=0.9, dampening=0.1),
     ValueError, ["SGD", "nesterov", "dampening=0.1"]),
    ("sgd-weight-decay", lambda: _sgd(weight_decay=-1e-4), ValueError,
     ["SGD", "weight_decay=-0.0001"]),
    ("adam-beta1", lambda: _adam(betas=(1.0, 0.999)), ValueError, ["Adam", "betas", "1.0"]),
    ("adamw-beta2", lambda: _adam(gc.optim.AdamW, betas=(0.9, -0.1)), ValueError,
     ["AdamW", "betas", "-0.1"]),
    ("adam-betas-length", lambda: _adam(betas=(0.9,)), ValueError, ["Adam", "betas", "(0.9,)"]),
    ("adam-eps", lambda: _adam(eps=-1e-8), ValueError, ["Adam", "eps", "-1e-08"]),
    ("optimizer-no-params", lambda: gc.optim.SGD([], lr=0.1), ValueError, ["SGD", "empty"]),
    ("steplr-step-size", lambda: gc.optim.lr_scheduler.StepLR(_sgd(), step_size=0), ValueError,
     ["StepLR", "step_size", "0"]),
    ("train-optimizer-name", lambda: train.build_optimizer(
        train.TrainConfig(optimizer="rmsprop"), gc.nn.Linear(2, 2)), ValueError,
     ["train", "'rmsprop'"]),
    # ---- names: activations and reductions -------------------------------------------------------
    ("mlp-activation", lambda: gc.nn.MLP([2, 3, 1], activation="swish"), ValueError,
     ["MLP", "'swish'", "relu"]),
    ("fused-linear-activation", lambda: F.linear(_x(2, 3), _x(4, 3), _x(4), activation="swish"),
     ValueError, ["linear", "'swish'"]),
    ("linear-activation-no-bias", lambda: F.linear(_x(2, 3), _x(4, 3), activation="swish"),
     ValueError, ["linear", "'swish'"]),
    ("Linear-forward-activation", lambda: gc.nn.Linear(3, 4)(_x(2, 3), activation="softmax"),
     ValueError, ["linear", "'softmax'"]),
    ("ce-reduction", lambda: F.cross_entropy(_x(2, 3), _labels(0, 1), reduction="avg"),
     ValueError, ["cross_entropy", "reduction", "'avg'"]),
    ("mse-reduction", lambda: F.mse_loss(_x(2), _x(2), reduction="batchmean"), ValueError,
     ["mse_loss", "reduction", "'batchmean'"]),
    ("bce-reduction", lambda: F.binary_cross_entropy_with_logits(_x(2), _x(2), reduction=None),
     ValueError, ["binary_cross_entropy_with_logits", "reduction", "None"]),
    ("CrossEntropyLoss-reduction", lambda: gc.nn.CrossEntropyLoss("total")(_x(2, 3), _labels(0, 1)),
     ValueError, ["cross_entropy", "'total'"]),
    # ---- axes ------------------------------------------------------------------------------------
    ("sum-axis", lambda: _x(2, 3).sum(axis=2), ValueError, ["sum", "axis 2", "2 dimensions"]),
    ("mean-axis", lambda: _x(2, 3).mean(axis=-3), ValueError, ["mean", "axis -3", "2 dim"]),
    ("var-axis", lambda: gc.var(_x(4), axis=1), ValueError, ["var", "axis 1", "1 dim"]),
    ("max-repeated-axis", lambda: _x(2, 3).max(axis=(0, 0)), ValueError,
     ["max", "repeated axis", "(0, 0)"]),
    ("softmax-axis", lambda: gc.softmax(_x(2, 3), axis=5), ValueError, ["softmax", "axis 5"]),
    ("log_softmax-axis", lambda: gc.log_softmax(_x(2, 3), axis=-3), ValueError,
     ["log_softmax", "axis -3"]),
    ("logsumexp-axis", lambda: gc.logsumexp(_x(2), axis=1), ValueError, ["logsumexp", "axis 1"]),
    ("swapaxes-axis", lambda: _x(2, 3).swapaxes(0, 3), ValueError, ["swapaxes", "axis 3"]),
    ("transpose-axes", lambda: _x(2, 3).transpose(0, 0), ValueError,
     ["transpose", "(0, 0)", "(2, 3)"]),
    ("squeeze-axis", lambda: _x(2, 3).squeeze(0), ValueError, ["squeeze", "axis 0", "size 2"]),
    ("expand_dims-axis", lambda: _x(2, 3).expand_dims(5), ValueError, ["expand_dims", "axis 5"]),
    ("concatenate-axis", lambda: gc.concatenate([_x(2, 3), _x(2, 3)], axis=2), ValueError,
     ["concatenate", "axis 2"]),
    ("stack-axis", lambda: gc.stack([_x(2), _x(2)], axis=3), ValueError, ["stack", "axis 3"]),
    # ---- reshape, broadcast_to -------------------------------------------------------------------
    ("reshape", lambda: _x(2, 3).reshape(4, 2), ValueError, ["reshape", "(2, 3)", "(4, 2)"]),
    ("reshape-two-minus-ones", lambda: _x(2, 3).reshape(-1, -1), ValueError,
     ["reshape", "(-1, -1)"]),
    ("broadcast_to", lambda: gc.broadcast_to(_x(2, 3), (4, 3, 2)), ValueError,
     ["broadcast_to", "(2, 3)", "(4, 3, 2)"]),
    # ---- indexing --------------------------------------------------------------------------------
    ("index-int", lambda: _x(2, 3)[5], IndexError, ["getitem", "5", "(2, 3)"]),
    ("index-second-axis", lambda: _x(2, 3)[0, 7], IndexError, ["getitem", "(0, 7)", "(2, 3)"]),
    ("index-too-many", lambda: _x(2, 3)[0, 0, 0], IndexError, ["getitem", "(0, 0, 0)", "(2, 3)"]),
    ("index-array", lambda: _x(2, 3)[gc.tensor([0, 9])], IndexError,
     ["getitem", "9", "(2, 3)"]),
    ("index-float-array", lambda: _x(4)[gc.tensor([0.0, 1.0])], IndexError,
     ["getitem", "float32", "(4,)"]),
    # ---- split, concatenate, stack ---------------------------------------------------------------
    ("split-unequal", lambda: gc.split(_x(5), 2), ValueError,
     ["split", "size 5", "2 equal sections"]),
    ("split-zero", lambda: gc.split(_x(4), 0), ValueError, ["split", "0 equal sections"]),
    ("split-axis", lambda: gc.split(_x(5), 5, axis=1), ValueError, ["split", "axis 1", "(5,)"]),
    ("concatenate-shapes", lambda: gc.concatenate([_x(2, 3), _x(2, 4)]), ValueError,
     ["concatenate", "(2, 3)", "(2, 4)"]),
    ("concatenate-ndim", lambda: gc.concatenate([_x(2, 3), _x(3)]), ValueError,
     ["concatenate", "(2, 3)", "(3,)"]),
    ("concatenate-nothing", lambda: gc.concatenate([]), ValueError,
     ["concatenate", "at least one"]),
    ("stack-shapes", lambda: gc.stack([_x(2), _x(3)]), ValueError, ["stack", "(2,)", "(3,)"]),
    # ---- other arguments -------------------------------------------------------------------------
    ("clip-no-bounds", lambda: gc.clip(_x(2)), ValueError, ["clip", "min", "max"]),
    ("len-0d", lambda: len(gc.tensor(1.0)), TypeError, ["len()", "0-d"]),
    ("Linear-size", lambda: gc.nn.Linear(0, 3), ValueError, ["Linear", "(0, 3)"]),
    ("MLP-sizes", lambda: gc.nn.MLP([3]), ValueError, ["MLP", "[3]"]),
    ("Sequential-item", lambda: gc.nn.Sequential(gc.nn.ReLU(), 3), TypeError,
     ["Sequential", "item 1", "int"]),
    ("zeros-negative", lambda: gc.zeros(2, -1), ValueError, ["shape", "(2, -1)"]),
    ("matmul-precision", lambda: gc.set_matmul_precision("medium"), ValueError,
     ["set_matmul_precision", "'medium'"]),
    ("numerical-method", lambda: gc.numerical_grad(gc.sum, _x(2), method="backward"), ValueError,
     ["numerical_grad", "'backward'"]),
    ("fused-leaky-slope", lambda: gc.ops.fused.linear_act(_x(2, 3), _x(4, 3), _x(4), "leaky_relu",
                                                          -0.1),
     ValueError, ["linear_act", "negative_slope"]),
]


def test_the_table_has_at_least_40_distinct_cases():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40, len(ids)


@pytest.mark.parametrize("call, exc, needles", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_raises_a_clear_error(call, exc, needles):
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc or issubclass(type(info.value), exc)
    message = str(info.value)
    missing = [n for n in needles if n not in message]
    assert not missing, f"message {message!r} lacks {missing}"


# ---- empty batches that are not errors --------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("reduction, expected", [("mean", np.nan), ("sum", 0.0), ("none", None)])
def test_cross_entropy_of_an_empty_batch_follows_pytorch(reduction, expected):
    """(0, C) logits: "mean" is 0/0 = nan (as PyTorch and gc.mean), "sum" is 0, "none" is (0,);
    the gradient is an empty (0, C) array either way (documented in cross_entropy)."""
    logits = gc.zeros(0, 3, requires_grad=True)
    loss = F.cross_entropy(logits, np.zeros(0, np.int64), reduction=reduction)
    if expected is None:
        assert loss.shape == (0,)
        loss.sum().backward()
    else:
        assert loss.shape == () and np.array_equal(loss.numpy(), expected, equal_nan=True)
        loss.backward()
    assert logits.grad.shape == (0, 3)


def test_reductions_of_zero_size_tensors_without_an_identity_raise_others_do_not():
    assert gc.zeros(0, 3).sum().item() == 0.0
    assert gc.zeros(0, 3).sum(axis=0).shape == (3,)
    with pytest.raises(ValueError, match=r"max: zero-size tensor of shape \(0, 3\)"):
        gc.zeros(0, 3).max(axis=0)

"""Anomaly detection: ``gc.detect_anomaly()`` (or GRADCORE_DETECT_ANOMALY=1) turns the first
NaN/Inf in an op's forward or backward output into a FloatingPointError that names the op and
the user's line that created it. Off by default, and then it does no work at all."""
import inspect
import os
import pathlib

import numpy as np
import pytest

import gradcore as gc
from gradcore.autograd import function as function_module
from tests.reliability.helpers import run_python

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own nan/inf notes

HERE = os.path.basename(__file__)


def _line():
    """The line number of the caller's next line."""
    return inspect.currentframe().f_back.f_lineno + 1


def test_forward_nan_names_the_op_and_the_line():
    x = gc.tensor([1.0, -1.0], requires_grad=True)
    with gc.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        line = _line()
        gc.log(x)  # log of a negative number: nan
    message = str(info.value)
    assert message.startswith("Log produced nan in its forward output"), message
    assert f"{HERE}:{line}" in message and "gc.log(x)" in message


def test_forward_inf_names_the_op_and_the_line():
    with gc.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        line = _line()
        gc.tensor([1.0, 0.0]) ** -1.0
    assert "PowScalar produced inf" in str(info.value) and f"{HERE}:{line}" in str(info.value)


def test_backward_inf_names_the_op_and_its_line_not_the_backward_call():
    x = gc.tensor([0.0, 4.0], requires_grad=True)
    with gc.detect_anomaly():
        line = _line()
        y = gc.sqrt(x)  # d sqrt(x)/dx = 1 / (2 sqrt(x)) is inf at 0
        with pytest.raises(FloatingPointError) as info:
            y.sum().backward()
    message = str(info.value)
    assert message.startswith(f"Sqrt (created at {__file__}:{line}"), message
    assert "gc.sqrt(x)" in message and "backward" in message and "inf" in message
    assert x.grad is None  # nothing reached the leaf


def test_backward_nan_names_the_op():
    x = gc.tensor([0.0, 1.0], requires_grad=True)
    with gc.detect_anomaly():
        line = _line()
        y = gc.sqrt(x)
        loss = (y * 0.0).sum()  # 0 / (2 * sqrt(0)) = nan
        with pytest.raises(FloatingPointError) as info:
            loss.backward()
    assert str(info.value).startswith(f"Sqrt (created at {__file__}:{line}")
    assert "nan" in str(info.value)


class _NanBackward(gc.Function):
    """A user op whose backward hands back NaN directly (no inner op to catch it)."""

    def forward(self, x):
        return x * 1.0

    def backward(self, gy):
        return gc.tensor(np.full(gy.shape, np.nan), dtype=gy.dtype)


def test_backward_output_check_names_a_custom_op():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    with gc.detect_anomaly():
        line = _line()
        y = _NanBackward()(x)
        with pytest.raises(FloatingPointError) as info:
            y.sum().backward()
    message = str(info.value)
    assert message.startswith("_NanBackward produced nan in its backward output"), message
    assert f"{HERE}:{line}" in message


def test_anomaly_in_a_training_step_names_the_fused_op():
    model = gc.nn.MLP([3, 4, 2])
    x = gc.tensor([[1.0, np.nan, 0.0]])  # a corrupt sample
    with gc.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        line = _line()
        model(x)
    assert "LinearAct produced nan" in str(info.value) and f"{HERE}:{line}" in str(info.value)


def test_switch_is_restored_after_an_error_and_nests():
    assert not gc.is_anomaly_enabled()
    with pytest.raises(FloatingPointError):
        with gc.detect_anomaly():
            with gc.detect_anomaly():
                assert gc.is_anomaly_enabled()
            assert gc.is_anomaly_enabled()
            gc.log(gc.tensor([-1.0]))
    assert not gc.is_anomaly_enabled()


def test_off_by_default_nan_passes_through_silently():
    assert not gc.is_anomaly_enabled()
    y = gc.log(gc.tensor([-1.0], requires_grad=True))
    assert np.isnan(y.item())


def test_off_costs_nothing_no_trace_no_checks(monkeypatch):
    """With the switch off, a 200-op chain (forward and backward) records no ``_trace`` and never
    calls the frame walk or the finiteness check."""
    def forbidden(*args, **kwargs):
        raise AssertionError("anomaly machinery ran while detect_anomaly was off")

    monkeypatch.setattr(function_module, "_user_frame", forbidden)
    monkeypatch.setattr(function_module.Function, "_check_finite", forbidden)
    x = gc.tensor([0.5, 1.5], requires_grad=True)
    y, nodes = x, []
    for i in range(200):
        y = gc.tanh(y) * 1.01 if i % 2 else y + 0.1
        nodes.append(y.node)
    y.sum().backward()
    assert x.grad is not None
    assert all(not hasattr(node, "_trace") for node in nodes)


def test_on_records_where_every_op_was_made():
    x = gc.tensor([0.5], requires_grad=True)
    with gc.detect_anomaly():
        line = _line()
        y = gc.tanh(x)
    assert y.node._trace.startswith(f"{__file__}:{line} in test_on_records_where_every_op_was_made")


def test_environment_variable_turns_it_on_for_the_process(tmp_path):
    script = (
        "import gradcore as gc\n"
        "print('enabled', gc.is_anomaly_enabled())\n"
        "x = gc.tensor([0.0], requires_grad=True)\n"
        "y = gc.sqrt(x)\n"
        "try:\n"
        "    y.sum().backward()\n"
        "except FloatingPointError as e:\n"
        "    print('ERR', e)\n")
    on = run_python(script, {"GRADCORE_DETECT_ANOMALY": "1"}, tmp_path)
    assert "enabled True" in on
    assert "ERR Sqrt (created at <string>:4" in on
    off = run_python(script, {"GRADCORE_DETECT_ANOMALY": "0"}, tmp_path)
    assert "enabled False" in off and "ERR" not in off


def test_user_code_in_a_folder_named_gradcore_is_still_the_users(tmp_path):
    """The frame that created an op is found by the package's path, not by the word 'gradcore'
    anywhere in it (CI checks out into .../gradcore/gradcore/)."""
    folder = tmp_path / "gradcore" / "project"
    folder.mkdir(parents=True)
    script = folder / "train_script.py"
    script.write_text("import gradcore as gc\n"
                      "with gc.detect_anomaly():\n"
                      "    try:\n"
                      "        gc.log(gc.tensor([-2.0]))\n"
                      "    except FloatingPointError as e:\n"
                      "        print('ERR', e)\n")
    out = run_python(f"import runpy; runpy.run_path({str(script)!r})", {}, folder)
    assert f"{pathlib.Path(script)}:4" in out, out

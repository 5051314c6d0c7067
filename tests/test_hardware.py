"""The machine description printed with timings and recorded with study runs."""

import os
import platform
import subprocess
import sys

import pytest

from mtdnn_tf import hardware


def test_the_description_names_the_cpu_its_matrix_flags_and_gpus(monkeypatch):
    monkeypatch.setattr(hardware, "_cpuinfo_field", lambda name: {
        "model name": "Intel(R) Xeon(R) Platinum", "flags": "fpu avx2 avx512f amx_bf16 amx_tile"}[name])
    monkeypatch.setattr(hardware, "gpu_names", lambda: [])
    assert hardware.cpu_flags() >= {"avx2", "amx_bf16"}
    assert hardware.machine_description() == (
        f"Intel(R) Xeon(R) Platinum, {os.cpu_count()} CPU cores (flags: avx2 avx512f amx_bf16), no GPU")
    monkeypatch.setattr(hardware, "_cpuinfo_field", lambda name: None)  # no /proc/cpuinfo
    monkeypatch.setattr(hardware, "gpu_names", lambda: ["/physical_device:GPU:0"])
    assert hardware.machine_description().endswith(
        "CPU cores (flags: none of avx2, avx512f, avx512_bf16, amx_bf16), 1 GPU(s)")


def test_this_machine_is_described():
    assert hardware.machine_description().startswith(hardware.cpu_model())


ONEDNN_STATE = ("import os, mtdnn_tf; from tensorflow.python.util import _pywrap_util_port as port;"
                " print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), port.IsMklEnabled())")


@pytest.mark.slow
def test_importing_mtdnn_tf_turns_on_onednn_on_x86_unless_the_user_said_otherwise():
    def state(**env):
        environment = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"} | env
        return subprocess.run([sys.executable, "-c", ONEDNN_STATE], env=environment, capture_output=True, text=True,
                              check=True).stdout.split()

    if platform.machine().lower() in ("x86_64", "amd64"):
        assert state() == ["1", "True"]  # on every x86-64 CPU, AVX2-only ones included
    else:
        assert state()[0] == "None"  # elsewhere TensorFlow's own choice stands
    assert state(TF_ENABLE_ONEDNN_OPTS="0") == ["0", "False"]

"""The machine description printed with timings and recorded with study runs."""

import os

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

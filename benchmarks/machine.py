"""What machine a benchmark ran on, and what its matrix units can do (shared by the benchmarks)."""

import gc
import os
import platform
import time

INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile")


def cpu_flags():
    """The CPU's flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_description():
    """E.g. 'AMD EPYC, 2 CPUs, flags: avx2 avx512f avx512_bf16'."""
    flags = cpu_flags()
    shown = " ".join(f for f in INTERESTING_FLAGS if f in flags) or "none of interest"
    return f"{cpu_model()}, {os.cpu_count()} CPUs, flags: {shown}"


def has_bfloat16_units():
    """True where the CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def matmul_gflops(dtype="float32", size=2048, seconds=3.0):
    """Measured matmul throughput in GFLOP/s (best of repeated size^3 products)."""
    import tensorflow as tf  # noqa: PLC0415

    a = tf.cast(tf.random.normal((size, size)), dtype)
    b = tf.cast(tf.random.normal((size, size)), dtype)

    @tf.function(autograph=False)
    def product(a, b):
        return tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32))

    product(a, b).numpy()
    best, started = 0.0, time.time()
    while time.time() - started < seconds:
        tick = time.perf_counter()
        product(a, b).numpy()
        best = max(best, 2 * size**3 / (time.perf_counter() - tick) / 1e9)
    return best


def _machine_ticks():
    """(steal, all) clock ticks of every CPU since boot, from /proc/stat ((0, 0) where there is none)."""
    try:
        with open("/proc/stat", encoding="utf-8") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0, 0
    return (values[7] if len(values) > 7 else 0), sum(values[:8])


class _GarbageCollectorTime:
    """Seconds Python's cyclic garbage collector has run in this process, and its full (generation 2) passes:
    after tracing, the heap holds millions of graph-building objects, and each full pass walks them all."""

    def __init__(self):
        self.seconds, self.full_passes, self._started = 0.0, 0, None
        gc.callbacks.append(self._callback)

    def _callback(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self.full_passes += info.get("generation") == 2
            self._started = None


_GC_TIME = _GarbageCollectorTime()


class ProcessClock:
    """What this process and the host did over a stretch of wall time: ``clock = ProcessClock()``, work,
    then ``clock.usage()``. For telling a slow stretch's cause apart: waiting (low CPU use), the kernel
    (system time, page faults: memory touched for the first time), the host (steal) or Python's garbage
    collector (its seconds and full passes)."""

    def __init__(self):
        import resource  # noqa: PLC0415 - POSIX only; the benchmarks run on Linux

        self._resource = resource
        self._wall = time.perf_counter()
        self._usage = resource.getrusage(resource.RUSAGE_SELF)
        self._steal, self._ticks = _machine_ticks()
        self._gc = _GC_TIME.seconds, _GC_TIME.full_passes

    def usage(self):
        wall = time.perf_counter() - self._wall
        now = self._resource.getrusage(self._resource.RUSAGE_SELF)
        steal, ticks = _machine_ticks()
        user, system = now.ru_utime - self._usage.ru_utime, now.ru_stime - self._usage.ru_stime
        return {"cpu_use": round((user + system) / wall / (os.cpu_count() or 1), 3),
                "system_share": round(system / max(user + system, 1e-9), 3),
                "minor_faults_per_s": round((now.ru_minflt - self._usage.ru_minflt) / wall),
                "steal_share": round((steal - self._steal) / max(ticks - self._ticks, 1), 3),
                "gc_share": round((_GC_TIME.seconds - self._gc[0]) / wall, 3),
                "gc_full_passes": _GC_TIME.full_passes - self._gc[1]}

import numpy as np

from mtdnn_tf.training.schedules import WarmupLinearDecay


def test_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(peak=1e-3, total_steps=100, warmup_steps=10)
    values = [float(schedule(step)) for step in (0, 5, 10, 55, 100, 120)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)
    restored = WarmupLinearDecay(**schedule.get_config())
    assert float(restored(30)) == float(schedule(30))

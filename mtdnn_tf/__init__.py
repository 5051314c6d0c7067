"""mtdnn_tf: Multi-Task Deep Neural Networks (Liu et al., ACL 2019) in Keras 3 / TensorFlow.

Importing the package registers its Keras objects (task heads, the head input
layer, the learning-rate schedule), so a trained run's model loads with
``keras.saving.load_model("<model_dir>/model.keras")`` after ``import mtdnn_tf``,
and fills the leaf registries (``mtdnn_tf.registry``) with the task types and
head kinds that task definitions name.
"""

__version__ = "0.1.0"

from mtdnn_tf.hardware import prefer_onednn  # noqa: E402
from mtdnn_tf.quiet_start import import_tensorflow_quietly  # noqa: E402

prefer_onednn()  # before TensorFlow is imported: its oneDNN kernels on every x86-64 CPU, not only AVX-512 ones
import_tensorflow_quietly()  # before Keras imports TensorFlow: no C++ start-up notes on a CPU-only start

# Imported for their registration (with Keras' serialisation, and in mtdnn_tf.registry), not for names.
from mtdnn_tf import task_types as _task_types  # noqa: E402, F401, I001
from mtdnn_tf.models import head_input as _head_input  # noqa: E402, F401
from mtdnn_tf.models import head_kinds as _head_kinds  # noqa: E402, F401
from mtdnn_tf.models import linear_head as _linear_head  # noqa: E402, F401
from mtdnn_tf.models import san_head as _san_head  # noqa: E402, F401
from mtdnn_tf.models import token_linear_head as _token_linear_head  # noqa: E402, F401
from mtdnn_tf.training import schedules as _schedules  # noqa: E402, F401

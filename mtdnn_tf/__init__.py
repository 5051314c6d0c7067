"""mtdnn_tf: Multi-Task Deep Neural Networks (Liu et al., ACL 2019) in Keras 3 / TensorFlow.

Importing the package registers its Keras objects (task heads, the head input
layer, the learning-rate schedule), so a trained run's model loads with
``keras.saving.load_model("<model_dir>/model.keras")`` after ``import mtdnn_tf``.
"""

__version__ = "0.1.0"

# Imported for their registration with Keras' serialisation, not for names.
from mtdnn_tf.models import head_input as _head_input  # noqa: E402, F401
from mtdnn_tf.models import linear_head as _linear_head  # noqa: E402, F401
from mtdnn_tf.models import san_head as _san_head  # noqa: E402, F401
from mtdnn_tf.training import schedules as _schedules  # noqa: E402, F401

"""mtdnn_tf: Multi-Task Deep Neural Networks (Liu et al., ACL 2019) in Keras 3 / TensorFlow."""

__version__ = "0.1.0"

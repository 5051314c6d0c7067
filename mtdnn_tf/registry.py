"""Named registries of classes, each kept as one instance: the task types and the head kinds.

The two registries live here, in a leaf, so task definitions (``mtdnn_tf.tasks``,
pure data) can check and resolve a YAML name without importing the layers that
fill them: ``mtdnn_tf.task_types`` and ``mtdnn_tf.models.head_kinds`` register
their classes on import, and ``import mtdnn_tf`` imports both.
"""


class Registry:
    """Maps a YAML name to an instance of the registered class.

    Example:

    ```python
    HEADS = Registry("head kind")

    @HEADS.register
    class Linear:
        name = "linear"

    HEADS.get("linear"), HEADS.names()  # (<Linear ...>, ('linear',))
    ```
    """

    def __init__(self, kind):
        self.kind = kind
        self._entries = {}

    def register(self, cls):
        """Class decorator: makes ``cls`` (with a ``name`` attribute) available under that name."""
        if not getattr(cls, "name", None):
            raise ValueError(f"{cls.__name__} has no name")
        self._entries[cls.name] = cls()
        return cls

    def names(self):
        """The registered names, in registration order."""
        return tuple(self._entries)

    def get(self, name):
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r} (registered: {', '.join(self._entries)})") from None


TASK_TYPES = Registry("task type")  # YAML ``type``; filled by mtdnn_tf.task_types
HEAD_KINDS = Registry("head kind")  # YAML ``head.kind``; filled by mtdnn_tf.models.head_kinds

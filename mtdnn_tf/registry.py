"""A named registry of classes, each kept as one instance (task types, head kinds)."""


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

"""Settings that are pure data: checked dataclasses any layer may read (a leaf beside ``errors``)."""

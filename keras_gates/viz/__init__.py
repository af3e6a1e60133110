"""Seeing gates: figures (`plots`, matplotlib imported when called) and
the self-contained HTML gate viewer (`viewer`)."""

from keras_gates.viz import plots, viewer

__all__ = ["plots", "viewer"]

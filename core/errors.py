"""Typed errors shared by every layer."""

from __future__ import annotations


class ModelNotFoundError(RuntimeError):
    """A model's files are missing; the message names what is missing and how to get it."""


class AudioFormatError(ValueError):
    """Audio that cannot be used: unreadable, empty, odd-length PCM, unsupported rate."""

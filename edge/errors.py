"""Specific exceptions for everything a user can get wrong. The CLI prints them as one line."""


class EdgeError(Exception):
    """Base class: a problem with the user's input or environment, reported without a traceback."""


class ModelError(EdgeError):
    """The model file is missing, truncated, not TFLite, or cannot run on this runtime."""


class MetadataError(EdgeError):
    """The model's embedded metadata is missing a field or holds a value we cannot use."""


class DelegateError(EdgeError):
    """A delegate name is unknown or its library cannot be loaded."""


class SourceError(EdgeError):
    """A frame source cannot be opened or read."""


class SinkError(EdgeError):
    """A sink cannot be opened or written (bad URI, full disk, unwritable folder)."""


class ConfigError(EdgeError):
    """A command-line option or configuration value is invalid."""


class SourceUnavailable(SourceError):
    """A live source that is not there yet (server down, device absent): worth retrying, unlike a bad option."""

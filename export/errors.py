"""Exceptions for what a user can get wrong when exporting. ValueError subclasses, one line each."""

from train.run_folder import RunFolderError as _RunFolderProblem


class ExportError(ValueError):
    """Base class: bad export input, reported by the CLI as one line without a traceback."""


class RunFolderError(ExportError, _RunFolderProblem):
    """The folder is not a usable run: run.json or model.keras is missing, or run.json lacks a field. One error
    with train's: ``except train.run_folder.RunFolderError`` catches what export raises too."""


class FormatError(ExportError):
    """An export format name is unknown."""


class CalibrationError(ExportError):
    """The run's training data cannot provide the requested calibration samples."""

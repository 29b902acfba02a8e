"""ClassLab's exceptions.

Every message says what went wrong and what to do about it. Core functions
validate their inputs before they write anything, so an exception from
ClassLab means the dataset was left unchanged.
"""

from __future__ import annotations


class ClassLabError(Exception):
    """Base class of every error ClassLab raises on purpose."""


class InputError(ClassLabError, ValueError):
    """A parameter has a value ClassLab cannot use."""


class FieldError(InputError):
    """A field is missing or has the wrong type."""


class EmptyViewError(InputError):
    """The view (or a required part of it) has no samples."""


class DatasetExistsError(InputError):
    """A dataset of that name exists and overwrite was not asked for."""


class DataSourceError(InputError):
    """Source files are missing, truncated or corrupt."""


class DeviceError(ClassLabError):
    """The requested compute device is not available."""


class RunExistsError(InputError):
    """A run key (model, augmentation, ...) exists and overwrite was not asked for."""


class RunNotFoundError(InputError):
    """No run (model, augmentation, ...) has that key on the dataset."""


class MissingDependencyError(ClassLabError, ImportError):
    """An optional heavy package is not installed."""

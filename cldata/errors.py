"""Every exception cldata raises on purpose.

All derive from :class:`CldataError`, so ``except cldata.errors.CldataError`` catches
anything cldata refused. Where a standard exception type is the natural one for the
situation (``TypeError`` for a value of the wrong type, ``KeyError`` for a missing entry,
``ValueError`` for a bad value), the cldata exception derives from it as well, so code
written against plain Python conventions keeps working.

Example
-------
>>> import cldata
>>> from cldata.errors import UnsupportedValueError
>>> try:
...     cldata.encode(object())
... except UnsupportedValueError as exc:
...     print(type(exc).__name__)
UnsupportedValueError
"""

from __future__ import annotations


class CldataError(Exception):
    """Base class of every error cldata raises deliberately."""


# --- values and the entry codec -------------------------------------------------------


class UnsupportedValueError(CldataError, TypeError):
    """A value cannot be stored: its type is not one the codec supports."""


class ValueOutOfRangeError(CldataError, ValueError):
    """A value has a supported type but cannot be represented (e.g. an int above 2**64-1)."""


class DecodeError(CldataError, ValueError):
    """Bytes read from a file are not a valid encoded entry."""


class UnsafeContentError(CldataError):
    """A file asks to run code or build an object outside the allow-list.

    Raised instead of unpickling a forbidden class or function, or decoding a numpy
    object array. Nothing from the file has been executed when this is raised.
    """


class ContentLimitError(UnsafeContentError):
    """A file's content would take more than cldata's documented limits to load.

    Raised instead of loading a pickle that would allocate more bytes, build more values
    (shared references counted each time they are used) or nest deeper than
    :class:`cldata.core.safe_pickle.PickleLimits` allows, or whose containers contain
    themselves: the allocation bombs and endless walks a crafted file can hold. Nothing was
    executed and nothing beyond the limit was allocated. A subclass of
    :class:`UnsafeContentError`, so code refusing unsafe content refuses these too; a
    trusted file that is legitimately larger loads with larger limits.
    """


# --- recording files --------------------------------------------------------------------


class RecordingFileError(CldataError):
    """Base class for problems with a CL recording file."""


class NotARecordingError(RecordingFileError, ValueError):
    """The file is not a CL recording (not HDF5, or not the CL layout)."""


class CorruptRecordingError(RecordingFileError):
    """The file is a damaged CL recording: truncated, or with malformed nodes."""


class RecordingInProgressError(RecordingFileError):
    """A live writer still has the recording open; use :func:`cldata.follow` to read it."""


class UnfinishedRecordingError(RecordingFileError):
    """The writer of the recording stopped without closing it (it crashed or was killed).

    Everything that was flushed is kept in the recording's journal;
    :func:`cldata.recover` (or ``cldata check --repair``) restores it into the file.
    """


class AmbiguousEntryError(RecordingFileError, LookupError):
    """A data stream holds two rows with the same timestamp and different bytes.

    Iterating the stream in file order gives both (as the CL reader does); a lookup by
    time (``stream[ts]``, ranges, windows) cannot choose between them and raises this,
    naming the rows. ``cldata check`` lists them.
    """


class InvalidNameError(CldataError, ValueError):
    """A data-stream (or other) name is empty, too long, or contains forbidden characters."""


class TimestampOrderError(CldataError, ValueError):
    """Data-stream timestamps must strictly increase within a stream."""


class WriterClosedError(CldataError, ValueError):
    """The writer (or stream) has been closed; nothing more can be written through it."""


class InvalidDataError(CldataError, ValueError):
    """Spikes, stims or samples given to a writer have the wrong shape, dtype or range."""


class OverviewError(RecordingFileError):
    """An overview file (the min/max pyramid of a recording) is missing, damaged, or not an overview."""


class StaleOverviewError(OverviewError):
    """The overview file does not belong to this recording (or the recording has changed).

    Rebuild it with :func:`cldata.overview.build_overview` (``ensure_overview`` does so by itself).
    """


class BrokenLinkError(CldataError, FileNotFoundError):
    """A recording that a store links to has been moved or deleted."""


class ChangedLinkError(BrokenLinkError):
    """A recording that a store links to was changed (rewritten, truncated, touched) since it was linked.

    Its size or modification time differs from what the store recorded, so its content may
    no longer be what the catalog describes (and what results were computed from). A
    :class:`BrokenLinkError`: the link no longer leads to the recording that was added.
    """


# --- stores ------------------------------------------------------------------------------


class StoreError(CldataError):
    """Base class for problems with a datastore."""


class StoreFormatError(StoreError):
    """The directory is not a cldata store, or its catalog is damaged."""


class StoreLockedError(StoreError):
    """Another writer has the store open; only one writer at a time."""


class ReadOnlyStoreError(StoreError):
    """The store was opened read-only (mode "r")."""


class DuplicateError(StoreError, ValueError):
    """An entry with the same identity is already in the store (open with replace=True to replace)."""


class DuplicateResultError(DuplicateError):
    """A result with the same identifier, parameters and sources is already stored."""


class DuplicateRecordingError(DuplicateError):
    """The same recording is already in the store."""


class NotFoundError(StoreError, KeyError):
    """No entry with that id (or matching that query) is in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UniquenessError(StoreError, LookupError, ValueError):
    """A query asked for exactly one match (ads_unique / rec_unique) and got another number.

    Also a :class:`ValueError`, the exception mozaik's ``ads_unique``/``rec_unique`` raise, so
    ported code that catches it keeps working."""


class BackendError(StoreError):
    """A backend is unknown, failed to load, or does not behave as a backend must."""


class ForeignViewError(StoreError, ValueError):
    """Views from different stores were combined."""


class ParameterError(CldataError, ValueError):
    """A query, analysis or parameter file has missing, unexpected or mistyped parameters."""


class UnknownNameError(ParameterError, LookupError):
    """A query names a data stream, tag or parameter that no entry of the whole store has.

    Such a query would otherwise answer with an empty view, silently, for a typo. The
    message names what is unknown, suggests close matches ("did you mean ...") and lists
    the known names; the same are attributes: ``name``, ``suggestions`` and ``known``. A
    name the store has but the queried view lacks is not an error (the answer is then
    rightly empty). A :class:`ParameterError` (and ``LookupError``), so existing handlers
    keep catching it.
    """

    def __init__(self, message: str, *, name: str = "", suggestions: tuple[str, ...] = (),
                 known: tuple[str, ...] = ()):
        super().__init__(message)
        self.name, self.suggestions, self.known = name, tuple(suggestions), tuple(known)


class UnknownStreamError(UnknownNameError):
    """No recording of the store has a data stream of that name (or matching that pattern)."""


class UnknownTagError(UnknownNameError):
    """No analysis result of the store carries that tag."""


class UnknownParameterError(UnknownNameError):
    """No entry of the store has a parameter (or data-stream attribute) at that path."""


class OutputExistsError(CldataError, FileExistsError):
    """The file a command would write exists already (pass ``overwrite=True``, or ``--overwrite``)."""


# --- warnings ------------------------------------------------------------------------------


class CldataWarning(UserWarning):
    """Base class of the warnings cldata gives (``warnings.simplefilter("error", CldataWarning)``
    turns them all into errors)."""


class UntidyRecordingWarning(CldataWarning):
    """A recording holds something the CL format does not promise but cldata reads anyway
    (see docs/READER-TOLERANCE.md): what, where, and what cldata does about it."""


class UntidyIndexWarning(UntidyRecordingWarning):
    """A data stream's index rows are not in timestamp order, or repeat earlier rows (the CL
    simulator writes such files when its ring buffer is lapped). Given once per stream and file."""


class ExportWarning(CldataWarning):
    """An export left out something the view shows (results whose sources are outside the
    view): what, and how to include it."""


class WindowOutsideRecordingsWarning(CldataWarning):
    """A time window holds no frame of any recording in the view (it lies beyond their ends,
    or before their starts), so every read through it finds nothing. The message gives the
    recordings' extent."""

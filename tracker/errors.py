"""Errors the records layer reports to people (the CLI exits 2 with the message)."""


class RecordError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(RecordError):
    pass


class NotAllowed(RecordError):
    """The action needs a consent, a screening, an override or a role that is missing."""


class DuplicatePhoto(RecordError):
    pass


class BadPhoto(RecordError):
    """A file that the analysis cannot read; ``code`` is the analysis error code."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class NeedsConfirmation(RecordError):
    """Allowed, but unusual enough to ask first (a session beyond the plan, out of date order, in the future).

    ``warnings`` says what is unusual; calling again with ``confirmed=True`` proceeds.
    """

    def __init__(self, warnings: list[str]):
        super().__init__("; ".join(warnings) + ". Confirm to proceed")
        self.warnings = warnings


class DuplicateRecord(RecordError):
    """The same record was just made (a double click, a retried command)."""

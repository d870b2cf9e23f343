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

"""Typed errors for photos the analysis cannot use.

Every error carries a stable ``code`` that the command line, the records layer
and the app show to people and match on:

========================  ====================================================
``unreadable``            an image file that is empty, truncated or corrupt
``not_an_image``          a file that is not an image at all (text, PDF, ...)
``too_large``             more pixels or bytes than a clinic photo can have
                          (decompression-bomb guard)
``unsupported``           an image format we do not read, or a request the
                          photos cannot answer (a region outside the photo,
                          body photos with too few features to align)
``no_face``               no face found in a photo that should show one
``multiple_faces``        several faces and none is clearly the subject
``bad_floors``            a noise-floors file that cannot be read or is not
                          one (:mod:`analysis.calibration`)
``bad_pairs``             a calibration list of no-change pairs that cannot
                          be used (``python -m analysis calibrate``)
========================  ====================================================
"""


class AnalysisError(Exception):
    """A photo the analysis cannot use; ``code`` says why, ``message`` says it to a person."""

    code = "analysis_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class UnreadableImage(AnalysisError):
    code = "unreadable"


class NotAnImage(AnalysisError):
    code = "not_an_image"


class ImageTooLarge(AnalysisError):
    code = "too_large"


class UnsupportedImage(AnalysisError):
    code = "unsupported"


class NoFace(AnalysisError):
    code = "no_face"


class MultipleFaces(AnalysisError):
    code = "multiple_faces"


class BadFloors(AnalysisError):
    code = "bad_floors"


class BadPairs(AnalysisError):
    code = "bad_pairs"

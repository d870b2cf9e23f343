"""Skin analysis for before/after photos of aesthetic treatments.

Pure functions over numpy arrays: decode a photo, find the face, align it to
the baseline, normalise lighting, mask the skin regions and measure redness,
brightness, evenness, texture and spots, with the change between sessions and
its measurement noise. No files, no database, no UI.

>>> from analysis import analyse, decode
>>> result = analyse(decode(open("photo.jpg", "rb").read()))  # doctest: +SKIP
"""

__version__ = "0.3.0"  # 0.3.0: the distance gain only where the photos confirm the client moved (issue 15.1)

from .calibration import Floor, Floors, fit_floors, load_floors  # noqa: E402
from .decoding import DecodedImage, decode  # noqa: E402
from .errors import (  # noqa: E402
    AnalysisError, BadFloors, ImageTooLarge, MultipleFaces, NoFace, NotAnImage, UnreadableImage, UnsupportedImage,
)
from .noise import shipped_floors  # noqa: E402
from .pipeline import FacePhoto, analyse, locate_face  # noqa: E402

__all__ = [
    "AnalysisError", "BadFloors", "DecodedImage", "FacePhoto", "Floor", "Floors", "ImageTooLarge", "MultipleFaces",
    "NoFace", "NotAnImage", "UnreadableImage", "UnsupportedImage", "analyse", "decode", "fit_floors", "load_floors",
    "locate_face", "shipped_floors", "__version__",
]

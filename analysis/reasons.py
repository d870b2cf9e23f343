"""Why a photo is not usable, or a pair not comparable: reasons as codes with messages.

Every verdict of the analysis carries its reasons as :class:`Reason` values,
``{"code": ..., "message": ...}`` at the JSON edge. Callers (the records, the
app, the reports, the tests) match on the code, never on the English message,
which is for the practitioner and may carry measured figures. :data:`CODES` is
the one registry of codes: what each means, whether it blocks the comparison,
and the plain sentence a client is shown instead of the engine's message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ReasonCode:
    """One kind of reason: whether it blocks a comparison, and how to say it to a client."""

    code: str
    blocking: bool
    plain: str


CODES: dict[str, ReasonCode] = {c.code: c for c in (
    # photo quality
    ReasonCode("face_cut_off", True, "the face is cut off by the edge of the photo"),
    ReasonCode("not_standard_view", True, "the head is turned too far for a standard view"),
    ReasonCode("face_small", False, "the photo was taken too far away to see fine texture"),
    ReasonCode("skin_hidden", True, "too much of the skin is hidden by hair, highlights or shadow"),
    ReasonCode("greyscale", True, "the photo has no colour"),
    ReasonCode("under_exposed", True, "the photo is too dark"),
    ReasonCode("over_exposed", True, "the photo is too bright"),
    # the pair
    ReasonCode("different_person", True, "the photo does not appear to show the same person as the first session"),
    ReasonCode("identity_unverified", False, "the photo is too small to confirm it shows the same person"),
    ReasonCode("view", True, "the photo was taken from a different angle"),
    ReasonCode("head_turned", True, "the head is turned differently from the first session"),
    ReasonCode("head_tilted", True, "the head is tilted differently from the first session"),
    ReasonCode("distance", True, "the photo was taken from a different distance"),
    ReasonCode("framing", True, "the photo was framed differently from the first session: keep the camera, zoom "
                                "and chair where they were"),
    ReasonCode("alignment", True, "the photos could not be lined up closely enough"),
    ReasonCode("expression", True, "the facial expression differs from the first session"),
    ReasonCode("lighting", True, "the lighting could not be matched to the first session"),
    ReasonCode("light_direction", True, "the light falls on the skin differently from the first session"),
    ReasonCode("too_little_skin", True, "too little of the same skin is visible in both photos"),
    ReasonCode("region_hidden", True, "this area is not visible in both photos"),
    ReasonCode("features_misaligned", True, "the photos could not be lined up closely enough"),
    # why the lighting was not normalised (analysis.colour, analysis.reference)
    ReasonCode("no_reference_photo", True, "there is no earlier photo to compare with"),
    ReasonCode("no_reference", True, "the lighting could not be matched to the first session"),
    ReasonCode("too_little_backdrop", True, "too little of the background is visible to match the lighting"),
    ReasonCode("backdrop_changed", True, "the background or the light's direction changed"),
    ReasonCode("exposure_out_of_range", True, "the photo is far brighter or darker than the first session"),
    # whether the light on the face was corrected for a change of distance (analysis.pipeline.distance_correction)
    ReasonCode("client_moved", False, "the client sat nearer or farther than at the first session: the light on "
                                      "the face was corrected for it"),
    ReasonCode("face_size_unchanged", False, "the photo was taken from the same distance as the first session"),
    ReasonCode("light_measured_at_face", False, "a colour chart or grey card measured the light at the face"),
    ReasonCode("backdrop_scaled", False, "the camera zoomed or moved: the light on the face needs no correction "
                                         "for distance"),
    ReasonCode("backdrop_unmeasured", False, "the background does not show whether the camera or the client "
                                             "moved: the light on the face was not corrected for distance"),
    # what the records add when there is no comparison to show
    ReasonCode("not_analysed", True, "the photo has not been analysed yet"),
    ReasonCode("photo_under_review", True, "your clinic is checking this session's photo"),
    ReasonCode("not_comparable", True, "the photos cannot be compared"),
    ReasonCode("noise_unknown", True, "this photo needs to be analysed again"),
    ReasonCode("noise_uncalibrated", True, "this measure is not yet validated on real photos"),
    ReasonCode("failed", True, "the photo could not be analysed"),
    # analysis errors (analysis.errors), as stored against a photo
    ReasonCode("unreadable", True, "the photo file could not be read"),
    ReasonCode("not_an_image", True, "the file is not a photo"),
    ReasonCode("too_large", True, "the photo is too large"),
    ReasonCode("unsupported", True, "the photo could not be measured"),
    ReasonCode("no_face", True, "no face was found in the photo"),
    ReasonCode("multiple_faces", True, "more than one face is in the photo"),
    # hair loss and cellulite measures (analysis.scalp, analysis.cellulite)
    ReasonCode("low_hair_contrast", True, "the hair and the scalp are too alike in colour to measure from a photo"),
    ReasonCode("one_class", True, "the marked area shows only hair or only scalp"),
    ReasonCode("hair_unresolved", True, "the photo was taken too far away to see the scalp between the hairs"),
    ReasonCode("no_part", False, "no parting line is visible in the marked area"),
    ReasonCode("not_needed", False, "the measure does not depend on the lighting"),
    ReasonCode("no_shading", True, "the light in this photo shows too little of the skin's surface"),
)}


@dataclass(frozen=True)
class Reason:
    """One reason, with a message for the practitioner (it may carry measured figures)."""

    code: str
    message: str

    def __post_init__(self):
        if self.code not in CODES:
            raise ValueError(f"unknown reason code {self.code!r}")

    @property
    def blocking(self) -> bool:
        return CODES[self.code].blocking

    @property
    def plain(self) -> str:
        """The sentence for a client: no figures, no jargon."""
        return CODES[self.code].plain

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}

    def __str__(self) -> str:
        return self.message


def face_small(eyes_px: float, needed_px: float, measures: str = "texture and fine lines") -> Reason:
    """Why ``measures`` are not measured in a photo: how far apart its eyes are and how far they must be.

    ``needed_px`` is rounded up, so that a photo with its eyes that far apart is enough.
    """
    verb = "need" if " and " in measures else "needs"
    return Reason("face_small", f"eyes are {eyes_px:.0f} px apart; {measures} {verb} at least "
                                f"{math.ceil(needed_px - 1e-9)}: move closer or use a higher resolution")


def plain_reason(reason: dict) -> str:
    """The client's sentence for a reason as stored (``{"code", "message"}``)."""
    found = CODES.get(reason.get("code", ""))
    return found.plain if found else "the photos cannot be compared"

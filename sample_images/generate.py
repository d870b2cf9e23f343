"""Generate the sample course in this folder, reproducibly.

    python sample_images/generate.py

A *simulated* mesotherapy course of four monthly sessions, each photographed
front, left 45 degrees and right 45 degrees, made from scikit-image's
public-domain astronaut portrait at clinic resolution
(``analysis.simulate.clinic_portrait``: enlarged x6 with synthetic skin
micro-texture). Each later session carries a known, injected treatment
effect in the skin only, and a realistic re-capture: the camera reframed
(a zoom of at most 3 %, a roll and a shift of the whole frame, the backdrop
with it), exposure, white balance, JPEG. The client sat where they sat, so
the light on them did not change. A client who moved nearer or farther would
receive more or less light, and the analysis corrects that only where the
backdrop shows that the client, not the camera, moved; this portrait's plain
backdrop cannot show it (``analysis.pipeline.distance_correction``), so such
a re-capture here would read as a change of the skin. The 45-degree views
are rendered from the frontal portrait by turning its face mesh
(``analysis.simulate.turn_head``), with visible streaks along the far cheek.
``course.json`` records the truth for every photo. It is for demonstration
and tests; it is not a photograph of a treatment.
"""

from __future__ import annotations

import io
import json
import pathlib
import sys

import numpy as np
from PIL import Image
from skimage import data

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from analysis import locate_face  # noqa: E402
from analysis.simulate import Recapture, clinic_portrait, inject, skin_mask, turn_head  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
#: Cumulative effect at each session: redness a* shift, lightness L* shift, fine-texture factor.
EFFECTS = [(0.0, 0.0, 1.0), (-1.0, 1.0, 0.93), (-2.0, 2.0, 0.87), (-3.0, 3.0, 0.82)]
DATES = ["2026-01-12", "2026-02-09", "2026-03-09", "2026-04-13"]
#: Rendered turn of each view, degrees (the pose estimator reads 45 as about 30).
TURNS = {"front": 0.0, "left_45": -45.0, "right_45": 45.0}
#: Range of a re-capture's zoom (the whole frame): well within the 5 % change of face size beyond which a pair
#: whose backdrop cannot show that the client moved is not comparable (``analysis.pipeline.MAX_FRAMING_CHANGE``).
ZOOM = (0.97, 1.03)


def main() -> None:
    astronaut = data.astronaut()
    head = clinic_portrait(astronaut, locate_face(astronaut).face)
    face = locate_face(head).face
    weights = skin_mask(face, head)
    rng = np.random.default_rng(2026)
    sessions = []
    for number, ((da, dl, texture), date) in enumerate(zip(EFFECTS, DATES), start=1):
        treated = inject(head, weights, delta_a=da, delta_l=dl, texture_factor=texture, texture_sigma_px=10.0)
        photos = []
        for view, turn in TURNS.items():
            zoom = float(rng.uniform(ZOOM[0], ZOOM[1]))
            capture = Recapture() if number == 1 else Recapture(
                rotation_deg=float(rng.uniform(-4, 4)), scale=zoom,
                shift_px=tuple(float(v) for v in rng.uniform(-25, 25, 2)), exposure=float(rng.uniform(0.85, 1.0)),
                white_balance=tuple(float(v) for v in rng.uniform(0.96, 1.04, 3)))
            name = f"session-{number}-{view}.jpg"
            exif = Image.Exif()
            exif.get_ifd(0x8769)[0x9003] = f"{date.replace('-', ':')} 10:00:00"
            buf = io.BytesIO()
            posed = treated if turn == 0 else turn_head(treated, face, turn)
            Image.fromarray(capture.apply(posed)).save(buf, format="JPEG", quality=90, exif=exif.tobytes())
            (HERE / name).write_bytes(buf.getvalue())
            photos.append({"view": view, "photo": name, "rendered_turn_deg": turn, "capture": vars(capture)})
        sessions.append({"session": number, "date": date, "photos": photos,
                         "injected": {"delta_a_star": da, "delta_l_star": dl, "fine_texture_factor": texture}})
    manifest = {"simulated": True,
                "source": "skimage.data.astronaut() (public domain), enlarged x6 with synthetic skin texture",
                "treatment": "mesotherapy, skin rejuvenation (simulated)", "sessions": sessions}
    (HERE / "course.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()

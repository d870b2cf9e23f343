"""Command line over :func:`analysis.analyse`.

    python -m analysis measure PHOTO [--reference BASELINE] [--region POLYGON] [--area scalp|cellulite]
                                     [--marker-mm MM] [--json]

With ``--json`` stdout is one JSON object (see README); otherwise a readable
report. Errors give a non-zero exit status and one ``error: ...`` line on
stderr, and with ``--json`` also ``{"error": {"code": ..., "message": ...}}``
on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import numpy as np

from . import __version__
from .decoding import DecodedImage, decode
from .errors import AnalysisError, ImageTooLarge, UnreadableImage
from .colour import METHODS
from .marker import DEFAULT_MARKER_MM
from .metrics import METRICS, REGISTRY
from .pipeline import AREAS, analyse, locate_face

AREA_METRICS = {name: REGISTRY[name] for module in AREAS.values() for name in module.METRICS}

EXIT_ERROR = 1

def parse_polygon(text: str) -> np.ndarray:
    """``"x1,y1 x2,y2 x3,y3 ..."`` or a JSON list of ``[x, y]`` pairs, in pixels."""
    try:
        points = json.loads(text) if text.lstrip().startswith("[") else [p.split(",") for p in text.split()]
        polygon = np.asarray(points, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"not a polygon: {text!r} (expected 'x1,y1 x2,y2 x3,y3')") from exc
    if polygon.ndim != 2 or polygon.shape[1] != 2 or len(polygon) < 3:
        raise argparse.ArgumentTypeError("a region needs at least 3 points 'x,y'")
    if not np.isfinite(polygon).all():
        raise argparse.ArgumentTypeError("a region's coordinates must be finite numbers")
    return polygon


def _load(path: str, role: str) -> DecodedImage:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise UnreadableImage(f"{role} {path}: {exc.strerror or exc}") from exc
    try:
        return decode(data)
    except AnalysisError as exc:
        raise type(exc)(f"{role} {path}: {exc.message}") from exc


def _face(image: DecodedImage, path: str, role: str):
    try:
        return locate_face(image)
    except AnalysisError as exc:
        raise type(exc)(f"{role} {path}: {exc.message}") from exc


def measure(photo_path: str, reference_path: str | None = None, region: np.ndarray | None = None,
            area: str | None = None, marker_mm: float = DEFAULT_MARKER_MM) -> dict:
    """Decode, analyse and describe a photo (and its baseline) from files."""
    photo = _load(photo_path, "photo")
    reference = _load(reference_path, "baseline") if reference_path else None
    if region is None:
        subject = _face(photo, photo_path, "photo")
        baseline = _face(reference, reference_path, "baseline") if reference is not None else None
        result = analyse(subject, baseline)
    elif area is not None:
        result = analyse(photo, reference, region=region, area=area, marker_mm=marker_mm)
    else:
        result = analyse(photo, reference, region=region)
    result["image"].update(format=photo.format, source_mode=photo.source_mode,
                           captured_at=photo.captured_at.isoformat() if photo.captured_at else None,
                           conversions=list(photo.conversions))
    return result


def _fmt(value) -> str:
    return "-" if value is None else (f"{value:d}" if isinstance(value, int) else f"{value:.2f}")


def _render_area(result: dict, lines: list[str]) -> str:
    scale = result["scale"]
    lines.append(f"area       {result['area']}; scale {scale['px_per_mm']:.2f} px/mm "
                 + ("(nominal: no marker found)" if scale["nominal"] else f"(from a {scale['marker_mm']:g} mm marker)"))
    if "alignment" in result:
        a = result["alignment"]
        lines.append(f"alignment  features, {a['inliers']} inliers; comparable: {'yes' if a['comparable'] else 'no'}")
        lines += [f"  reason: {r['code']}: {r['message']}" for r in a["reasons"]]
    lines.append("")
    lines.append(f"{'metric':<20}{'baseline':>10}{'photo':>10}{'change':>10}{'noise 95%':>11}  unit")
    for m, value in result["metrics"].items():
        base = result.get("reference_metrics", {}).get(m)
        lines.append(f"{m:<20}{_fmt(base):>10}{_fmt(value):>10}{_fmt(result.get('change', {}).get(m)):>10}"
                     f"{_fmt(result.get('noise', {}).get(m)):>11}  {AREA_METRICS[m].unit}")
    for m, r in {**result["refused"], **result.get("change_refused", {})}.items():
        lines.append(f"  {m}: not measured ({r['code']}): {r['message']}")
    return "\n".join(lines)


def render(result: dict) -> str:
    """A readable report of an analysis result."""
    lines = [f"image      {result['image']['width']} x {result['image']['height']}"]
    if result.get("area"):
        return _render_area(result, lines)
    face = result.get("face")
    if face:
        lines.append(f"face       view {face['view'] or 'unknown'}, eyes {face['inter_ocular_px']:.0f} px apart, "
                     f"yaw {face['yaw_deg']:+.1f}, pitch {face['pitch_deg']:+.1f}, roll {face['roll_deg']:+.1f} deg")
    quality = result["quality"]
    lines.append(f"usable     {'yes' if quality['usable'] else 'no'}")
    lines += [f"  warning: {w['message']}" for w in quality["warnings"]]
    if "alignment" in result:
        a = result["alignment"]
        residual = a.get("residual_iod_pct")
        detail = f"residual {residual:.2f}% of eye distance" if residual is not None else f"{a.get('inliers')} inliers"
        lines.append(f"alignment  {a['method']}, {detail}; comparable: {'yes' if a['comparable'] else 'no'}")
        lines += [f"  reason ({r['code']}): {r['message']}" for r in a["reasons"]]
        norm = result["normalisation"]
        lines.append("lighting   " + (f"{METHODS[norm['method']]}, exposure x{norm['exposure_factor']:.2f}"
                                      if norm["applied"] else f"not normalised: {norm['reason']['message']}"))
        lines.append("")
        lines.append(f"{'metric':<20}{'baseline':>10}{'photo':>10}{'change':>10}{'noise 95%':>11}  beyond noise")
        for m in METRICS:
            beyond = result["beyond_noise"][m]
            lines.append(f"{m:<20}{_fmt(result['reference_metrics'][m]):>10}{_fmt(result['metrics'][m]):>10}"
                         f"{_fmt(result['change'][m]):>10}{_fmt(result['noise'][m]):>11}  "
                         f"{'-' if beyond is None else ('yes' if beyond else 'no')}  {REGISTRY[m].unit}")
    else:
        lines.append("")
        names = list(result["regions"])
        lines.append(f"{'metric':<20}{'all skin':>10}" + "".join(f"{n:>13}" for n in names))
        for m in METRICS:
            lines.append(f"{m:<20}{_fmt(result['metrics'][m]):>10}"
                         + "".join(f"{_fmt(result['regions'][n][m]):>13}" for n in names) + f"  {REGISTRY[m].unit}")
    return "\n".join(lines)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class AnalysisFailed(AnalysisError):
    """An unexpected failure (a bug), reported as an error like any other."""

    code = "failed"


def _fail(error: AnalysisError, as_json: bool) -> int:
    print(f"error: {error.message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": error.to_dict()}))
    return EXIT_ERROR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description="Measure skin in clinic photos.")
    parser.add_argument("--version", action="version", version=f"analysis {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    m = commands.add_parser("measure", help="measure a photo, and its change since a baseline")
    m.add_argument("photo", help="the session photo (JPEG, PNG, TIFF, WebP or HEIC)")
    m.add_argument("--reference", metavar="BASELINE", help="the baseline photo of the same view")
    m.add_argument("--region", type=parse_polygon, metavar="POLYGON",
                   help="for photos without a face: the area to measure, 'x1,y1 x2,y2 ...' in the "
                        "baseline's pixels (or the photo's, without --reference)")
    m.add_argument("--area", choices=sorted(AREAS),
                   help="with --region: hair-loss (scalp) or cellulite measures instead of skin colour and texture")
    m.add_argument("--marker-mm", type=float, default=DEFAULT_MARKER_MM, metavar="MM",
                   help=f"side of the printed ArUco marker (DICT_4X4_50) in frame, giving the scale "
                        f"(default {DEFAULT_MARKER_MM:g} mm)")
    m.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.area and args.region is None:
        parser.error("--area needs --region")
    warnings.simplefilter("ignore")  # stderr carries our own messages only
    try:
        result = measure(args.photo, args.reference, args.region, args.area, args.marker_mm)
    except AnalysisError as exc:
        return _fail(exc, args.json)
    except MemoryError:
        return _fail(ImageTooLarge("the photo does not fit in memory"), args.json)
    except Exception as exc:  # a bug: one line, never a traceback
        return _fail(AnalysisFailed(f"the analysis failed ({type(exc).__name__}: {exc})"), args.json)
    print(json.dumps(result, default=_json_default) if args.json else render(result))
    return 0

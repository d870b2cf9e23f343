"""Command line over :func:`analysis.analyse`.

    python -m analysis measure PHOTO [--reference BASELINE [--floors FLOORS.json]] [--region POLYGON]
                                     [--area scalp|cellulite] [--marker-mm MM] [--json]
    python -m analysis calibrate PAIRS.csv --out FLOORS.json [--min-pairs N]

``measure``: with ``--json`` stdout is one JSON object (see README); otherwise
a readable report. ``--floors`` takes a clinic's floors written by
``calibrate`` (:mod:`analysis.calibration`).

``calibrate``: ``PAIRS.csv`` has the header ``photo,baseline`` and one real
no-change pair a line (paths relative to the CSV file); pairs of body photos
add the columns ``area`` (empty: skin colour and texture over the marked
region, as ``measure --region``) and ``region`` (the polygon in the
baseline's pixels, as ``--region``). Every pair is analysed; the changes of
the scopes judged comparable are fitted (:func:`analysis.calibration.fit_floors`)
and the floors written as JSON with the CSV's SHA-256, the engine version,
the date and n per floor.

Errors give a non-zero exit status and one ``error: ...`` line on stderr,
and with ``--json`` also ``{"error": {"code": ..., "message": ...}}`` on
stdout.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import filecmp
import hashlib
import json
import os
import pathlib
import sys
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

from . import __version__
from .calibration import MIN_PAIRS, Floors, fit_floors, load_floors, pair_changes
from .decoding import DecodedImage, decode
from .errors import AnalysisError, BadFloors, BadPairs, ImageTooLarge, UnreadableImage
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
            area: str | None = None, marker_mm: float = DEFAULT_MARKER_MM, floors: Floors | None = None) -> dict:
    """Decode, analyse and describe a photo (and its baseline) from files."""
    photo = _load(photo_path, "photo")
    reference = _load(reference_path, "baseline") if reference_path else None
    if region is None:
        subject = _face(photo, photo_path, "photo")
        baseline = _face(reference, reference_path, "baseline") if reference is not None else None
        result = analyse(subject, baseline, floors=floors)
    elif area is not None:
        result = analyse(photo, reference, region=region, area=area, marker_mm=marker_mm)
    else:
        result = analyse(photo, reference, region=region, floors=floors)
    result["image"].update(format=photo.format, source_mode=photo.source_mode,
                           captured_at=photo.captured_at.isoformat() if photo.captured_at else None,
                           conversions=list(photo.conversions))
    return result


# --- calibrate -------------------------------------------------------------------

COLUMNS = ("photo", "baseline", "area", "region")


@dataclass(frozen=True)
class Pair:
    """One no-change pair of a calibration list: its line, the two photos, and a body pair's region."""

    line: int
    photo: str
    baseline: str
    region: np.ndarray | None


def _pair(row: dict, line: int, where: str, folder: pathlib.Path) -> Pair:
    if None in row or None in row.values():
        header = [k for k in row if k is not None]
        raise BadPairs(f"{where}: expected {len(header)} fields ({','.join(header)}), separated by commas")
    photo, baseline = row["photo"].strip(), row["baseline"].strip()
    if not photo or not baseline:
        raise BadPairs(f"{where}: a photo and a baseline are needed")
    area, region = (row.get("area") or "").strip(), (row.get("region") or "").strip()
    if area in AREAS:
        raise BadPairs(f"{where}: the {area} measures cannot be calibrated yet (their floors come from rendered "
                       "scenes): remove this pair")
    if area:
        raise BadPairs(f"{where}: unknown area {area!r}: leave it empty for skin colour and texture over the "
                       "marked region")
    try:
        polygon = parse_polygon(region) if region else None
    except argparse.ArgumentTypeError as exc:
        raise BadPairs(f"{where}: region: {exc}") from None
    return Pair(line, str(folder / photo), str(folder / baseline), polygon)


def read_pairs(path: str) -> tuple[list[Pair], str]:
    """The pairs of a calibration list (module docstring) and the file's SHA-256; raises ``BadPairs``."""
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as exc:
        raise BadPairs(f"pairs {path}: {exc.strerror or exc}") from None
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise BadPairs(f"pairs {path}: not a UTF-8 text file") from None
    reader = csv.DictReader(lines)
    header = [name.strip() for name in reader.fieldnames or []]
    if not {"photo", "baseline"} <= set(header) <= set(COLUMNS) or len(set(header)) < len(header):
        raise BadPairs(f"pairs {path}: the first line must be the header photo,baseline "
                       f"(with area,region for body photos), not {','.join(header) or 'empty'}")
    reader.fieldnames = header
    folder = pathlib.Path(path).parent
    try:
        pairs = [_pair(row, reader.line_num, f"pairs {path} line {reader.line_num}", folder) for row in reader]
    except csv.Error as exc:
        raise BadPairs(f"pairs {path} line {reader.line_num}: {exc}") from None
    if not pairs:
        raise BadPairs(f"pairs {path}: no pairs after the header")
    _check_pairs(pairs, path)
    return pairs, hashlib.sha256(data).hexdigest()


def _check_pairs(pairs: list[Pair], path: str) -> None:
    """Every file is there, before a long analysis; and no pair is listed twice or is a photo against itself,
    which would make the clinic look more repeatable than it is."""
    seen: dict = {}
    for pair in pairs:
        for role, file in (("photo", pair.photo), ("baseline", pair.baseline)):
            if not os.path.isfile(file):
                raise BadPairs(f"pairs {path} line {pair.line}: {role} {file}: no such file")
        key = (pair.photo, pair.baseline, None if pair.region is None else pair.region.tobytes())
        if key in seen:
            raise BadPairs(f"pairs {path} line {pair.line}: the same pair as line {seen[key]}")
        seen[key] = pair.line
        try:
            same = filecmp.cmp(pair.photo, pair.baseline, shallow=False)
        except OSError as exc:
            raise BadPairs(f"pairs {path} line {pair.line}: {exc.filename}: {exc.strerror or exc}") from None
        if same:
            raise BadPairs(f"pairs {path} line {pair.line}: the photo and the baseline are the same file: a "
                           "no-change pair is two photos taken one after the other")


def _analyse_pair(pair: Pair, where: str) -> dict:
    try:
        if pair.region is not None:
            return analyse(_load(pair.photo, "photo"), _load(pair.baseline, "baseline"), region=pair.region)
        return measure(pair.photo, pair.baseline)
    except AnalysisError as exc:
        raise type(exc)(f"{where} line {pair.line}: {exc.message}") from exc


def calibrate(pairs_path: str, min_pairs: int = MIN_PAIRS) -> Floors:
    """Floors fitted on the no-change pairs listed in ``pairs_path`` (module docstring)."""
    pairs, digest = read_pairs(pairs_path)
    changes: dict = {}
    comparable = 0
    for pair in pairs:
        result = _analyse_pair(pair, f"pairs {pairs_path}")
        comparable += bool(result["alignment"]["comparable"])
        for key, value in pair_changes(result, result["noise_tier"]).items():
            changes.setdefault(key, []).extend([] if value is None else [value])
    name = pathlib.Path(pairs_path).name
    provenance = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "pairs_file": name, "pairs_sha256": digest, "pairs": len(pairs), "comparable_pairs": comparable}
    return fit_floors(changes, min_pairs=min_pairs, source=f"no-change pairs of {name}", provenance=provenance)


def write_floors(floors: Floors, path: str) -> None:
    """Write the floors file whole or not at all."""
    target = pathlib.Path(path)
    temporary = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.",
                                         delete=False) as handle:
            temporary = handle.name
            handle.write(floors.to_json())
        os.replace(temporary, target)
    except OSError as exc:
        if temporary is not None:
            pathlib.Path(temporary).unlink(missing_ok=True)
        raise BadFloors(f"floors {path}: cannot write it: {exc.strerror or exc}") from None


def describe_floors(floors: Floors, path: str) -> str:
    """What ``calibrate`` wrote, in a few lines."""
    about = floors.provenance
    lines = [f"wrote {len(floors.floors)} floors to {path} from {about['pairs']} pairs "
             f"({about['comparable_pairs']} comparable overall), analysis {about['engine_version']}"]
    by_scope: dict = {}
    for m in floors.missing:
        by_scope.setdefault(f"{m.tier}/{m.scope}", []).append(f"{m.metric} ({m.n})")
    if by_scope:
        lines.append(f"no floor where fewer than {about['min_pairs']} comparable pairs measured it (pairs):")
        lines += [f"  {scope}: {', '.join(metrics)}" for scope, metrics in by_scope.items()]
    return "\n".join(lines)


def _min_pairs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 3:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 3")
    return value


# --- readable report ----------------------------------------------------------------

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
        sources = sorted({s for s in result["noise_source"].values() if s})
        lines.append(f"floors     {' and '.join(sources) or 'none'} (tier {result['noise_tier']})")
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
    m.add_argument("--floors", metavar="FLOORS.json",
                   help="with --reference: the clinic's noise floors, written by calibrate (else the shipped ones)")
    m.add_argument("--json", action="store_true", help="print one JSON object")
    c = commands.add_parser("calibrate", help="fit the clinic's noise floors on its own no-change pairs")
    c.add_argument("pairs", metavar="PAIRS.csv",
                   help="header photo,baseline (and area,region for body photos), one no-change pair a line, "
                        "paths relative to the file")
    c.add_argument("--out", required=True, metavar="FLOORS.json", help="where to write the floors")
    c.add_argument("--min-pairs", type=_min_pairs, default=MIN_PAIRS, metavar="N",
                   help=f"fewest comparable pairs a floor is fitted on (default {MIN_PAIRS}, at least 3)")
    args = parser.parse_args(argv)
    if args.command == "measure" and args.area and args.region is None:
        parser.error("--area needs --region")
    if args.command == "measure" and args.floors and not args.reference:
        parser.error("--floors needs --reference: floors bound a change")
    as_json = getattr(args, "json", False)
    warnings.simplefilter("ignore")  # stderr carries our own messages only
    try:
        if args.command == "calibrate":
            floors = calibrate(args.pairs, args.min_pairs)
            write_floors(floors, args.out)
            print(describe_floors(floors, args.out))
            return 0
        floors = load_floors(args.floors) if args.floors else None
        result = measure(args.photo, args.reference, args.region, args.area, args.marker_mm, floors)
    except AnalysisError as exc:
        return _fail(exc, as_json)
    except MemoryError:
        return _fail(ImageTooLarge("the photo does not fit in memory"), as_json)
    except Exception as exc:  # a bug: one line, never a traceback
        return _fail(AnalysisFailed(f"the analysis failed ({type(exc).__name__}: {exc})"), as_json)
    print(json.dumps(result, default=_json_default) if as_json else render(result))
    return 0

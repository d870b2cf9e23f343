"""Peak memory of decoding, per pixel format, against the estimate that refuses images before decoding.

    python bench/bench_decode_memory.py [--megapixels 12]

Each format is written as a random image, then decoded in a fresh process
(so that earlier allocations do not hide the peak); ``measured`` is the
growth of the process's peak resident memory over the decode, per pixel.
``estimate`` is :data:`analysis.decoding.WORKING_BYTES_PER_PIXEL`, which
must not be below ``measured``. ``max MP`` is the largest image of that
format the budget (:data:`analysis.decoding.MAX_DECODE_BYTES`) accepts.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
FORMATS = [("RGB", "JPEG"), ("RGB", "PNG"), ("CMYK", "JPEG"), ("L", "PNG"), ("P", "PNG"), ("I;16", "PNG"),
           ("F", "TIFF"), ("RGBA", "PNG"), ("LA", "PNG")]

WRITE = """
import sys, numpy as np
from PIL import Image
mode, w, h, fmt, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rng = np.random.default_rng(0)
if mode == "I;16":
    img = Image.fromarray(rng.integers(0, 65535, (h, w)).astype(np.uint16))
elif mode == "F":
    img = Image.fromarray(rng.random((h, w)).astype(np.float32))
else:
    img = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).convert(mode)
img.save(out, format=fmt)
"""

DECODE = """
import resource, sys, time
from PIL import Image
from analysis.decoding import decode
data = open(sys.argv[1], "rb").read()
mode = Image.open(sys.argv[1]).mode
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
image = decode(data)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(mode, (peak - before) * 1024 / (image.width * image.height), seconds)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from analysis.decoding import DEFAULT_WORKING_BYTES, MAX_DECODE_BYTES, WORKING_BYTES_PER_PIXEL

    width = int((args.megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    env = {"PYTHONPATH": str(ROOT)}
    print(f"{'format':<12}{'Pillow mode':<13}{'measured B/px':>14}{'estimate B/px':>15}{'max MP':>8}{'decode s':>10}")
    with tempfile.TemporaryDirectory() as scratch:
        for mode, fmt in FORMATS:
            path = pathlib.Path(scratch) / f"image.{fmt.lower()}"
            subprocess.run([sys.executable, "-c", WRITE, mode, str(width), str(height), fmt, str(path)], check=True)
            out = subprocess.run([sys.executable, "-c", DECODE, str(path)], check=True, capture_output=True,
                                 text=True, env=env).stdout.split()
            pillow_mode, measured, seconds = out[0], float(out[1]), float(out[2])
            estimate = WORKING_BYTES_PER_PIXEL.get(pillow_mode, DEFAULT_WORKING_BYTES)
            print(f"{mode + ' ' + fmt:<12}{pillow_mode:<13}{measured:>14.1f}{estimate:>15}"
                  f"{MAX_DECODE_BYTES / estimate / 1e6:>8.0f}{seconds:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

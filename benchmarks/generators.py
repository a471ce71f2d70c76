"""Speed of the embedded datasets' generators on one core (`make bench-generators`).

For each generator, at each size: images/s of rendering alone (the numpy/Pillow drawing), and of rendering plus
writing the PNG (what `medtl-bench data make` does on first use). The target in the skeleton issue is ≥ 500 img/s on
one core at 64 px. Torch is not imported; BLAS and OpenMP are pinned to one thread before numpy loads.

    python benchmarks/generators.py [--sizes 64 224] [--count 400] [--repeats 3] [--out FILE]

The best of `--repeats` runs is reported (the least disturbed by other load), with the 1-minute load average.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suite.data.synthetic import GENERATORS  # noqa: E402


def _rate(name: str, size: int, count: int, write_png: bool) -> float:
    generator = GENERATORS.get(name)
    params = generator.params({"size": size, "count": count})
    start = time.perf_counter()
    n = 0
    for _patient, _image_id, _label, pixels in generator.generate(params):
        if write_png:  # the same encoder settings as suite/data/materialise.py, into memory (no disk noise)
            Image.fromarray(pixels).save(io.BytesIO(), format="PNG", compress_level=1)
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the issue asks
    rows = []
    for name in GENERATORS.names():
        for size in args.sizes:
            row = {"generator": name, "size": size, "count": args.count}
            for key, png in (("render_img_s", False), ("render_png_img_s", True)):
                row[key] = max(_rate(name, size, args.count, png) for _ in range(args.repeats))
            row["load_1min"] = os.getloadavg()[0]
            rows.append(row)
            print(
                f"{name:18s} {size:4d} px  render {row['render_img_s']:7.0f} img/s   "
                f"render+PNG {row['render_png_img_s']:7.0f} img/s   (load {row['load_1min']:.2f})",
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()

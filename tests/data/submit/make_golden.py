"""Golden case for rle_submit's map -> triplet -> resize -> threshold -> RLE path, made with the
reference's own code: TripletSubmit.apply_thresholds and utils.mask_functions.mask2rle of
sneddy/kaggle-pneumothorax, loaded from its source (pandas, tqdm and utils.helpers are stubbed: only
their imports are needed). Not run by the tests; run with /work/pyref/bin/python (OpenCV 4.10):

    /work/pyref/bin/python tests/data/submit/make_golden.py [REFERENCE_UNET_PIPELINE_DIR]

Writes into this folder:
  golden_maps/<id>.png|.npy  the probability maps (PNG: p = v/255 as float32; NPY: float32 HxW)
  golden_sample.csv          the sample submission (ImageId,EncodedPixels, every row -1)
  golden_submission.csv      what the reference writes for them with the triplet below, one row per id
The maps hold smooth blobs of every 8-bit level (so p = 102/255, equal to float32(0.4), is met), at
sizes 128x128, 96x160 (not square: the reference resizes any map not 1024 high) and 64x64; none touches
the last pixel (the reference's mask2rle drops a run that reaches it; Pleura writes it).
"""
import os
import sys
import types

import cv2
import numpy as np

TRIPLET = (0.75, 60, 0.4)  # top, area (pixels at the map's size), bottom

here = os.path.dirname(os.path.abspath(__file__))
ref = sys.argv[1] if len(sys.argv) > 1 else "/work/ref/kaggle-pneumothorax/unet_pipeline"
sys.path.insert(0, ref)
for name in ("pandas", "tqdm", "utils.helpers"):
    stub = types.ModuleType(name)
    stub.tqdm = lambda x: x
    stub.load_yaml = None
    sys.modules[name] = stub
reference = {"__name__": "triplet_submit"}
with open(os.path.join(ref, "TripletSubmit.py")) as f:
    exec(compile(f.read(), "TripletSubmit.py", "exec"), reference)
apply_thresholds = reference["apply_thresholds"]


def blobs(h, w, seed, count):
    """8-bit map: a sum of Gaussian bumps, scaled to 0..255 and rounded (every level appears)."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    field = np.zeros((h, w))
    for _ in range(count):
        cy, cx = rng.uniform(0.15, 0.8) * h, rng.uniform(0.15, 0.8) * w
        sy, sx = rng.uniform(0.08, 0.2) * h, rng.uniform(0.08, 0.2) * w
        field += rng.uniform(0.5, 1.0) * np.exp(-((y - cy) ** 2 / (2 * sy**2) + (x - cx) ** 2 / (2 * sx**2)))
    field = field / field.max()
    return np.round(field * 255).astype(np.uint8)


maps_dir = os.path.join(here, "golden_maps")
os.makedirs(maps_dir, exist_ok=True)
cases = []  # (id, float32 map)
a = blobs(128, 128, 1, 3)
cv2.imwrite(os.path.join(maps_dir, "golden_a.png"), a)
cases.append(("golden_a", a.astype(np.float32) / 255))
b = blobs(96, 160, 2, 4)
cv2.imwrite(os.path.join(maps_dir, "golden_b.png"), b)
cases.append(("golden_b", b.astype(np.float32) / 255))
c = (blobs(64, 64, 3, 2).astype(np.float32) / 255) * np.float32(0.9)  # an npy map, not on the 8-bit grid
np.save(os.path.join(maps_dir, "golden_c.npy"), c.astype(np.float32))
cases.append(("golden_c", c.astype(np.float32)))
d = blobs(128, 128, 4, 1)
d = (d // 4).astype(np.uint8)  # max 63/255 < 0.75: count(p > top) = 0 < area, so the image is empty
cv2.imwrite(os.path.join(maps_dir, "golden_d.png"), d)
cases.append(("golden_d", d.astype(np.float32) / 255))

top, area, bottom = TRIPLET
rows = []
for name, m in cases:
    assert m[-1, -1] <= bottom, "the last pixel must be off (see the docstring)"
    # The reference's call with n_objects = 1, no leak, no contours, no minimum contour area.
    print(name, m.shape, "count(p > top) =", int((m > top).sum()))
    rle = apply_thresholds(m, 1, area, top, bottom, bottom, False, 0)
    rows.append((name, "-1" if rle == -1 or rle == "" else rle))
with open(os.path.join(here, "golden_sample.csv"), "w") as f:
    f.write("ImageId,EncodedPixels\n")
    for name, _ in reversed(rows):  # another order than the maps' sorted ids
        f.write(f"{name},-1\n")
with open(os.path.join(here, "golden_submission.csv"), "w") as f:
    f.write("ImageId,EncodedPixels\n")
    for name, rle in reversed(rows):
        f.write(f"{name},{rle}\n")
print("triplet", TRIPLET, "rows", [(n, len(r)) for n, r in rows])

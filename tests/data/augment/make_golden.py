"""Golden outputs for tests/train/augment/test_golden.cpp, from OpenCV, NumPy and SciPy.

Run with opencv-python-headless 4.10 (any 4.x before the 4.11 rewrite of warpAffine/remap should give
the same bytes), numpy and scipy:  python make_golden.py  (writes the .npy files beside this script).
The albumentations 0.3 steps that are plain NumPy (grid-distortion maps, the elastic fields, the
intensity lookup tables, Normalize) are restated below from albumentations 0.3.0's functional.py; the
resampling itself is always OpenCV's.
"""
import os

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter

OUT = os.path.dirname(os.path.abspath(__file__))
REFLECT = cv2.BORDER_REFLECT_101


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(arr))


rng = np.random.RandomState(20190904)
H, W = 37, 29
src = rng.randint(0, 256, (H, W)).astype(np.uint8)
save("src", src)
mask = (rng.rand(H, W) > 0.6).astype(np.uint8) * 255
save("mask", mask)

# ShiftScaleRotate: angle 33.3 deg, scale 1.07, dx 0.05, dy -0.03 (as albumentations builds the matrix).
M = cv2.getRotationMatrix2D((W / 2, H / 2), 33.3, 1.07)
M[0, 2] += 0.05 * W
M[1, 2] += -0.03 * H
save("ssr_matrix", M)
save("ssr_linear", cv2.warpAffine(src, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=REFLECT))
save("ssr_nearest", cv2.warpAffine(src, M, (W, H), flags=cv2.INTER_NEAREST, borderMode=REFLECT))

# remap with arbitrary float maps reaching up to 12 pixels outside the image.
mx = (np.arange(W)[None, :] + rng.uniform(-12, 12, (H, W))).astype(np.float32)
my = (np.arange(H)[:, None] + rng.uniform(-12, 12, (H, W))).astype(np.float32)
save("remap_map_x", mx)
save("remap_map_y", my)
save("remap_linear", cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=REFLECT))
save("remap_nearest", cv2.remap(src, mx, my, cv2.INTER_NEAREST, borderMode=REFLECT))

# resize: up, down, mixed, and the exact 2x reduction that OpenCV turns into INTER_AREA.
for (h, w) in [(64, 64), (17, 40), (23, 11)]:
    save("resize_%dx%d_linear" % (h, w), cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR))
    save("resize_%dx%d_nearest" % (h, w), cv2.resize(src, (w, h), interpolation=cv2.INTER_NEAREST))
src40 = rng.randint(0, 256, (40, 40)).astype(np.uint8)
save("src40", src40)
save("resize40_20x20_linear", cv2.resize(src40, (20, 20), interpolation=cv2.INTER_LINEAR))


# GridDistortion maps (albumentations 0.3 grid_distortion), num_steps 5.
def grid_axis(size, steps, num_steps):
    step = size // num_steps
    coords = np.zeros(size, np.float32)
    prev = 0
    for idx, start in enumerate(range(0, size, step)):
        end = start + step
        if end > size:
            end, cur = size, size
        else:
            cur = prev + step * steps[idx]
        coords[start:end] = np.linspace(prev, cur, end - start)
        prev = cur
    return coords


steps_x = 1 + rng.uniform(-0.3, 0.3, 6)
steps_y = 1 + rng.uniform(-0.3, 0.3, 6)
save("grid_steps_x", steps_x)
save("grid_steps_y", steps_y)
gx, gy = np.meshgrid(grid_axis(W, steps_x, 5), grid_axis(H, steps_y, 5))
gx, gy = gx.astype(np.float32), gy.astype(np.float32)
save("grid_map_x", gx)
save("grid_map_y", gy)
save("grid_linear", cv2.remap(src, gx, gy, cv2.INTER_LINEAR, borderMode=REFLECT))
save("grid_nearest", cv2.remap(mask, gx, gy, cv2.INTER_NEAREST, borderMode=REFLECT))

# OpticalDistortion (k = 1.3, dx = 1, dy = -2) through cv2.initUndistortRectifyMap.
cam = np.array([[W, 0, W * 0.5 + 1], [0, W, H * 0.5 - 2], [0, 0, 1]], dtype=np.float32)
dist = np.array([1.3, 1.3, 0, 0, 0], dtype=np.float32)
ox, oy = cv2.initUndistortRectifyMap(cam, dist, None, None, (W, H), cv2.CV_32FC1)
save("optical_map_x", ox)
save("optical_map_y", oy)
save("optical_linear", cv2.remap(src, ox, oy, cv2.INTER_LINEAR, borderMode=REFLECT))

# ElasticTransform (alpha 20, sigma 3, alpha_affine 2.5 on this small image): the affine step from
# cv2.getAffineTransform, the fields from scipy's gaussian_filter of given noise.
noise_x = rng.rand(H, W) * 2 - 1
noise_y = rng.rand(H, W) * 2 - 1
save("elastic_noise_x", noise_x)
save("elastic_noise_y", noise_y)
blur_x = gaussian_filter(noise_x, 3.0)
save("elastic_blur_x", blur_x)
dx = np.float32(blur_x * 20.0)
dy = np.float32(gaussian_filter(noise_y, 3.0) * 20.0)
save("elastic_dx", dx)
save("elastic_dy", dy)
offsets = rng.uniform(-2.5, 2.5, (3, 2)).astype(np.float32)
save("elastic_offsets", offsets)
c = np.float32((H, W)) // 2
s = min(H, W) // 3
pts1 = np.float32([c + s, [c[0] + s, c[1] - s], c - s])
A = cv2.getAffineTransform(pts1, pts1 + offsets)
save("elastic_affine", A)
gxx, gyy = np.meshgrid(np.arange(W), np.arange(H))
ex, ey = np.float32(gxx + dx), np.float32(gyy + dy)
for name, img, interp in [("elastic_linear", src, cv2.INTER_LINEAR), ("elastic_nearest", mask, cv2.INTER_NEAREST)]:
    warped = cv2.warpAffine(img, A, (W, H), flags=interp, borderMode=REFLECT)
    save(name, cv2.remap(warped, ex, ey, interp, borderMode=REFLECT))

# Intensity lookup tables on uint8 (albumentations 0.3): float32 table, clip, truncating cast.
ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
save("ramp", ramp)


def contrast_brightness(img, alpha, beta):
    lut = np.arange(0, 256).astype("float32")
    if alpha != 1:
        lut *= alpha
    if beta != 0:
        # NumPy 1.x (the reference's) added the float64 scalar to the float32 table in float32;
        # NumPy 2 would add in float64, so cast explicitly.
        lut += np.float32(beta * np.mean(img))
    return cv2.LUT(img, np.clip(lut, 0, 255).astype(np.uint8))


def gamma(img, g):
    table = np.array([((i / 255.0) ** (1.0 / g)) * 255 for i in np.arange(0, 256)]).astype("uint8")
    return cv2.LUT(img, table)


save("contrast_1.17", contrast_brightness(src, 1.17, 0))
save("contrast_0.83", contrast_brightness(src, 0.83, 0))
save("brightness_0.13", contrast_brightness(src, 1.0, 0.13))
save("brightness_-0.19", contrast_brightness(src, 1.0, -0.19))
for g in (0.8, 0.93, 1.2):
    save("gamma_%g" % g, gamma(ramp, g))

# Normalize (albumentations, ImageNet statistics) of every value 0..255, per channel: [3, 256].
mean = np.array((0.485, 0.456, 0.406), dtype=np.float32) * 255.0
den = np.reciprocal(np.array((0.229, 0.224, 0.225), dtype=np.float32) * 255.0, dtype=np.float32)
vals = np.arange(256, dtype=np.uint8).reshape(256, 1).repeat(3, 1).astype(np.float32)
save("normalize_imagenet", ((vals - mean) * den).T.astype(np.float32))

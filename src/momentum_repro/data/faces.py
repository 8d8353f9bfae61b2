"""FACES: the paper's prepared file, or a re-creation from the Olivetti faces.

Sutskever et al. (2013) used ``newfaces_rot_single.mat`` from James Martens' page (variable
``newfaces_single``, 625 x 165,600: training = first 103,500 columns, test = last 41,400; the
middle 20,700 are not used). ``load_paper_faces`` reads it.

Where that file cannot be had, ``rebuild_faces`` re-creates the set as Hinton & Salakhutdinov
(2006, supporting material) describe it: 165,600 25x25 images made from the 400 Olivetti faces
by rotating (-90 to 90 degrees), scaling (1.4 to 1.8), cropping and subsampling; intensities
shifted so every pixel has zero mean, then the set scaled by one number so the average pixel
variance is 1; people 1-25 for training (103,500), 26-30 validation (20,700), 31-40 test (41,400).
It is a re-creation, not their file. Choices where the description is silent:

- 414 variants per image (165,600 / 400), angle ~ U(-90, 90) degrees and scale ~ U(1.4, 1.8)
  drawn independently per variant from ``numpy.random.default_rng(seed)``;
- geometry: rotation about the image centre and magnification by the scale; the crop is the
  central 64x64 window of the rotated, magnified face (64 / scale source pixels wide), with no
  random shift; points outside the photograph take the nearest border pixel;
- subsampling: bilinear sampling (torch ``grid_sample``) on a 50x50 grid, then 2x2 averaging to
  25x25 (a simple anti-alias); images are row-major (the paper's file is MATLAB column-major);
- intensities: Olivetti uint8 / 255 before the transform; the per-pixel means and the single
  scale are computed on the training people only (H&S used the whole set; this keeps the test
  people out of the statistics) and applied to every split;
- within each split the variants are in a random (seeded) order, so consecutive cases mix people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from momentum_repro.data.matfile import read_mat

PAPER_N_TRAIN = 103_500
PAPER_N_TEST = 41_400
PAPER_N_CASES = 165_600
N_PEOPLE = 40
IMAGES_PER_PERSON = 10
VARIANTS_PER_IMAGE = PAPER_N_CASES // (N_PEOPLE * IMAGES_PER_PERSON)  # 414
SIDE = 25
SPLIT_PEOPLE = {"train": range(0, 25), "validation": range(25, 30), "test": range(30, 40)}


@dataclass
class RebuiltFaces:
    """The re-created FACES splits (cases, 625) with the person (0-39) of every case."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    train_person: np.ndarray
    validation_person: np.ndarray
    test_person: np.ndarray
    pixel_mean: np.ndarray  # per-pixel mean (in [0, 1] units) subtracted before scaling
    info: dict[str, object] = field(default_factory=dict)


def load_paper_faces(
    path: str | Path, n_train: int = PAPER_N_TRAIN, n_test: int = PAPER_N_TEST
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) from ``newfaces_rot_single.mat``: first ``n_train`` and last ``n_test``
    columns of ``newfaces_single``, transposed to float32 (cases, pixels)."""
    faces = read_mat(path, ["newfaces_single"])["newfaces_single"]
    if faces.ndim != 2 or n_train + n_test > faces.shape[1]:
        raise ValueError(
            f"{path}: newfaces_single has shape {faces.shape}; expected (pixels, cases) with "
            f"at least n_train + n_test = {n_train + n_test} columns"
        )
    train = np.ascontiguousarray(faces[:, :n_train].T, dtype=np.float32)
    test = np.ascontiguousarray(faces[:, faces.shape[1] - n_test :].T, dtype=np.float32)
    return train, test


def load_olivetti(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images, person) from Roweis' ``olivettifaces.mat``: (400, 64, 64) uint8 upright faces
    (each column of ``faces`` is a column-major 64x64 image) and the person 0-39 of each."""
    faces = read_mat(path, ["faces"])["faces"]
    if faces.shape != (64 * 64, N_PEOPLE * IMAGES_PER_PERSON):
        raise ValueError(f"{path}: faces has shape {faces.shape}; expected (4096, 400)")
    images = faces.T.reshape(-1, 64, 64).transpose(0, 2, 1)
    person = np.repeat(np.arange(N_PEOPLE), IMAGES_PER_PERSON)
    return np.ascontiguousarray(images), person


def transform_faces(
    images: torch.Tensor, angles_deg: np.ndarray, scales: np.ndarray, side: int = SIDE
) -> np.ndarray:
    """Rotate, magnify, crop the centre and subsample (N, H, W) images to (N, side*side)."""
    angle = torch.as_tensor(np.deg2rad(angles_deg), dtype=torch.float32)
    inv_scale = 1.0 / torch.as_tensor(scales, dtype=torch.float32)
    cos, sin = torch.cos(angle) * inv_scale, torch.sin(angle) * inv_scale
    zero = torch.zeros_like(cos)
    # affine_grid maps output to input coordinates (both in [-1, 1]): (1/s) R(angle).
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    n = len(images)
    grid = F.affine_grid(theta, [n, 1, 2 * side, 2 * side], align_corners=False)
    fine = F.grid_sample(
        images[:, None], grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return F.avg_pool2d(fine, 2).reshape(n, side * side).numpy()


def rebuild_faces(
    olivetti_mat_path: str | Path,
    seed: int,
    variants_per_image: int = VARIANTS_PER_IMAGE,
    *,
    angle_range: tuple[float, float] = (-90.0, 90.0),
    scale_range: tuple[float, float] = (1.4, 1.8),
    side: int = SIDE,
    chunk: int = 4096,
) -> RebuiltFaces:
    """Re-create FACES from the Olivetti faces (Hinton & Salakhutdinov 2006; see module doc).

    ``variants_per_image`` = 414 gives the paper's 165,600 cases; tests use a few.
    """
    images, person = load_olivetti(olivetti_mat_path)
    source = torch.from_numpy(images.astype(np.float32) / np.float32(255))
    rng = np.random.default_rng(seed)
    splits: dict[str, np.ndarray] = {}
    persons: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        for split, people in SPLIT_PEOPLE.items():
            image_ids = np.flatnonzero(np.isin(person, list(people)))
            cases = rng.permutation(np.repeat(image_ids, variants_per_image))
            angles = rng.uniform(*angle_range, size=len(cases))
            scales = rng.uniform(*scale_range, size=len(cases))
            out = np.empty((len(cases), side * side), dtype=np.float32)
            for start in range(0, len(cases), chunk):
                part = slice(start, start + chunk)
                batch = source[torch.from_numpy(cases[part])]
                out[part] = transform_faces(batch, angles[part], scales[part], side)
            splits[split], persons[split] = out, person[cases]
    pixel_mean, scale = _normalise(splits, chunk)
    info = {
        "source": "rebuilt from olivettifaces.mat (Hinton & Salakhutdinov 2006 recipe)",
        "seed": seed,
        "variants_per_image": variants_per_image,
        "angle_range_deg": list(angle_range),
        "scale_range": list(scale_range),
        "side": side,
        "normalisation": "per-pixel mean and one scale from the training people",
        "intensity_scale": scale,
        "split_people": {k: [r.start + 1, r.stop] for k, r in SPLIT_PEOPLE.items()},
    }
    return RebuiltFaces(
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        train_person=persons["train"],
        validation_person=persons["validation"],
        test_person=persons["test"],
        pixel_mean=pixel_mean,
        info=info,
    )


def _normalise(splits: dict[str, np.ndarray], chunk: int) -> tuple[np.ndarray, float]:
    """In place: subtract the training per-pixel mean, then scale all so the training set's
    average pixel variance is 1. Returns (pixel mean, scale)."""
    train = splits["train"]
    pixel_mean = train.mean(axis=0, dtype=np.float64)
    square_sum = np.zeros(train.shape[1])
    for start in range(0, len(train), chunk):
        centred = train[start : start + chunk] - pixel_mean
        square_sum += np.einsum("ij,ij->j", centred, centred)
    average_variance = float(square_sum.mean() / len(train))
    if not average_variance > 0:
        raise ValueError(f"training faces have average pixel variance {average_variance}")
    scale = 1.0 / np.sqrt(average_variance)
    for values in splits.values():
        for start in range(0, len(values), chunk):
            block = values[start : start + chunk]
            block[...] = (block - pixel_mean) * scale
    return pixel_mean, float(scale)

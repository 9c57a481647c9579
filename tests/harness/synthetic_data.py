"""A tiny YOLO-format detection dataset that both real trainers accept.

Each image is dark random noise with one to three filled axis-aligned rectangles. Class 0 is a
red rectangle, class 1 a blue one. The label files use the YOLO text format (``class cx cy w h``,
normalised to the image size) and ``data.yaml`` names the dataset root with an absolute ``path:``
so the trainers never resolve it against their own dataset directory.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image

#: Class index -> (name, RGB colour of its rectangles).
CLASSES: dict[int, tuple[str, tuple[int, int, int]]] = {
    0: ("red", (230, 30, 30)),
    1: ("blue", (30, 60, 230)),
}


def _draw_image(rng: random.Random, noise: np.random.Generator, size: int) -> tuple[np.ndarray, list[str]]:
    """Draw one image and return it with its YOLO label lines."""
    pixels = noise.integers(0, 70, size=(size, size, 3), dtype=np.uint8)
    lines: list[str] = []
    for _ in range(rng.randint(1, 3)):
        cls = rng.choice(sorted(CLASSES))
        width = rng.randint(max(4, size // 6), size // 2)
        height = rng.randint(max(4, size // 6), size // 2)
        left = rng.randint(0, size - width)
        top = rng.randint(0, size - height)
        pixels[top : top + height, left : left + width] = CLASSES[cls][1]
        cx, cy = (left + width / 2) / size, (top + height / 2) / size
        lines.append(f"{cls} {cx:.6f} {cy:.6f} {width / size:.6f} {height / size:.6f}")
    return pixels, lines


def make_dataset(root: Path, n_train: int = 32, n_val: int = 8, size: int = 64, seed: int = 0) -> Path:
    """Write the dataset under ``root`` and return the path of its ``data.yaml``.

    The content depends only on the arguments, so two calls with the same arguments write the
    same images and labels.

    Args:
        root: Directory to create (parents included). Existing files with the same names are
            overwritten.
        n_train: Number of training images.
        n_val: Number of validation images.
        size: Width and height of every image in pixels.
        seed: Seed of the random generators.

    Returns:
        The absolute path of ``root/data.yaml``.
    """
    root = Path(root).resolve()
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("val", n_val)):
        image_dir = root / "images" / split
        label_dir = root / "labels" / split
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            pixels, lines = _draw_image(rng, noise, size)
            Image.fromarray(pixels).save(image_dir / f"{split}_{index:04d}.png")
            (label_dir / f"{split}_{index:04d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    names = "".join(f"  {index}: {name}\n" for index, (name, _) in CLASSES.items())
    data_yaml = root / "data.yaml"
    data_yaml.write_text(
        f"path: {root}\ntrain: images/train\nval: images/val\nnc: {len(CLASSES)}\nnames:\n{names}",
        encoding="utf-8",
    )
    return data_yaml

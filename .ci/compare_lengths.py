#!/usr/bin/env python3
"""Compare two `capsnet eval --dump-lengths` files line by line (one image per line, its capsule lengths).

Usage: compare_lengths.py REFERENCE CANDIDATE [RELATIVE_TOLERANCE]   (default 1e-5)

Fails (exit 1) unless both files have the same number of images and classes, every image's class (the longest
capsule, paper section 4) is the same in both, and every length agrees within the tolerance relative to the
reference's length. Always prints the worst relative difference and where it is.
"""
import math
import sys


def read(path):
    rows = []
    with open(path, encoding="ascii") as lines:
        for number, line in enumerate(lines, 1):
            try:
                row = [float(field) for field in line.split()]
            except ValueError as error:
                sys.exit(f"{path}:{number}: not a line of numbers ({error})")
            if not row or not all(math.isfinite(value) for value in row):
                sys.exit(f"{path}:{number}: empty line or a value that is not finite")
            rows.append(row)
    if not rows:
        sys.exit(f"{path}: no lengths")
    return rows


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    reference_path, candidate_path = sys.argv[1], sys.argv[2]
    tolerance = float(sys.argv[3]) if len(sys.argv) == 4 else 1e-5
    reference, candidate = read(reference_path), read(candidate_path)
    if len(reference) != len(candidate):
        sys.exit(f"{len(reference)} images in {reference_path}, {len(candidate)} in {candidate_path}")

    worst, worst_at, class_changes = 0.0, None, []
    for image, (expected, actual) in enumerate(zip(reference, candidate)):
        if len(expected) != len(actual):
            sys.exit(f"image {image}: {len(expected)} lengths in {reference_path}, {len(actual)} in {candidate_path}")
        # Class = index of the longest capsule; max() keeps the first of equal lengths, as the model's argmax does.
        expected_class = max(range(len(expected)), key=expected.__getitem__)
        actual_class = max(range(len(actual)), key=actual.__getitem__)
        if expected_class != actual_class:
            class_changes.append(f"image {image}: class {expected_class} vs {actual_class}")
        for j, (e, a) in enumerate(zip(expected, actual)):
            difference = abs(a - e) / abs(e) if e != 0 else (0.0 if a == 0 else math.inf)
            if difference > worst:
                worst, worst_at = difference, (image, j, e, a)

    images = len(reference)
    if worst_at is None:
        print(f"{images} images: classes equal, lengths identical")
    else:
        image, j, e, a = worst_at
        print(f"{images} images: worst relative length difference {worst:.3e} "
              f"(image {image}, class {j}: {e!r} vs {a!r}), tolerance {tolerance:g}")
    failed = False
    if class_changes:
        print(f"FAIL: {len(class_changes)} classes differ: " + "; ".join(class_changes[:10]))
        failed = True
    if worst > tolerance:
        print(f"FAIL: a length differs by more than {tolerance:g} relative")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

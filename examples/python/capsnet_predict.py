#!/usr/bin/env python3
"""Classifies 28x28 digit images with libcapsnet_mnist through ctypes (standard library only).

    python3 capsnet_predict.py [--lib PATH/libcapsnet_mnist.so] [--weights FILE.safetensors] IMAGE...

IMAGE: a PGM (binary P5 with maxval <= 255, or ASCII P2) or a raw file of exactly 784 bytes, checked as the C example
checks it (a bad file is one line on stderr and exit status 1, never a traceback). Prints, per image,
"image <path>", "class <n>" ("class <n> (<name>)" when the weights name their classes, e.g. a Fashion-MNIST file) and
"lengths <10 capsule lengths>" (%.9g: every digit of the float32), as the C example does.
The library is found with --lib, else $CAPSNET_MNIST_LIB, else next to this script, else by the loader (LD_LIBRARY_PATH).
The functions, status codes and sizes are those of capsnet_mnist.h, which is published next to the library.
"""
import argparse
import ctypes
import os
import sys

# capsnet_mnist.h: sizes and size queries (checked against the library at start).
INPUT_SIDE = 28
INPUT_LENGTH = 784
CLASSES = 10
SIZE_INPUT_LENGTH = 3
SIZE_CLASSES = 4


def load_library(path):
    if path is None:
        path = os.environ.get("CAPSNET_MNIST_LIB")
    if path is None:
        beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libcapsnet_mnist.so")
        path = beside if os.path.exists(beside) else "libcapsnet_mnist.so"
    lib = ctypes.CDLL(path)
    handle = ctypes.c_void_p
    floats = ctypes.POINTER(ctypes.c_float)
    lib.capsnet_mnist_weights_embedded.argtypes = [ctypes.POINTER(handle)]
    lib.capsnet_mnist_weights_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(handle)]
    lib.capsnet_mnist_weights_free.argtypes = [handle]
    lib.capsnet_mnist_workspace_create.argtypes = [ctypes.POINTER(handle)]
    lib.capsnet_mnist_workspace_free.argtypes = [handle]
    lib.capsnet_mnist_predict.argtypes = [handle, handle, floats, ctypes.c_size_t, floats, ctypes.c_size_t]
    lib.capsnet_mnist_class_name.argtypes = [handle, ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t]
    lib.capsnet_mnist_size.argtypes = [ctypes.c_int32]
    lib.capsnet_mnist_size.restype = ctypes.c_int64
    lib.capsnet_mnist_version.restype = ctypes.c_char_p
    lib.capsnet_mnist_simd_tier.restype = ctypes.c_char_p
    lib.capsnet_mnist_last_error.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.capsnet_mnist_last_error.restype = ctypes.c_size_t
    for name in ("weights_embedded", "weights_load", "weights_free", "workspace_create", "workspace_free", "predict",
                 "class_name"):
        getattr(lib, "capsnet_mnist_" + name).restype = ctypes.c_int32
    return lib


def class_name(lib, weights, cls):
    """The name the weights give class cls (the class number when the file names none), or None with the error printed."""
    length = lib.capsnet_mnist_class_name(weights, cls, None, 0)
    if length < 0:
        return None
    buffer = ctypes.create_string_buffer(length + 1)
    lib.capsnet_mnist_class_name(weights, cls, buffer, len(buffer))
    return buffer.value.decode("utf-8", "replace")


def last_error(lib):
    length = lib.capsnet_mnist_last_error(None, 0)
    buffer = ctypes.create_string_buffer(length + 1)
    lib.capsnet_mnist_last_error(buffer, len(buffer))
    return buffer.value.decode("utf-8", "replace")


# The largest image file read: a 28x28 P2 of 5-digit samples with a few comments is far below this; /dev/zero is not.
MAX_FILE_BYTES = 1 << 20


def pgm_int(data, position):
    """The next PGM integer from position, skipping whitespace and # comments, as the C example's pgm_int: digits only
    (a '-' is not a number), at most 7 of them. Returns (value, position after it) or (None, position) on error."""
    while position < len(data):
        if data[position:position + 1].isspace():
            position += 1
        elif data[position:position + 1] == b"#":
            while position < len(data) and data[position:position + 1] != b"\n":
                position += 1
        else:
            break
    start = position
    while position < len(data) and data[position:position + 1].isdigit():
        position += 1
    if start == position or position - start > 7:
        return None, position
    return int(data[start:position]), position


def read_image(path):
    """Pixels / maxval as floats in [0, 1] (in double, then float32 when stored: the capsnet CLI's rounding). Applies
    the C example's checks (28x28; maxval 1..255 for P5, 1..65535 for P2; every sample present, 0..maxval; a raw file
    of exactly 784 bytes) and reads at most MAX_FILE_BYTES + 1 bytes. Raises ValueError (or OSError) naming the problem."""
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if data[:2] in (b"P5", b"P2"):
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{path}: larger than {MAX_FILE_BYTES} bytes; a 28x28 PGM is far smaller")
        binary = data[:2] == b"P5"
        width, position = pgm_int(data, 2)
        height, position = pgm_int(data, position)
        maxval, position = pgm_int(data, position)
        if width != INPUT_SIDE or height != INPUT_SIDE:
            raise ValueError(f"{path}: the image is {width}x{height}; the model needs {INPUT_SIDE}x{INPUT_SIDE}")
        if maxval is None or not 1 <= maxval <= (255 if binary else 65535):
            raise ValueError(f"{path}: maxval {maxval} is not supported (P5: 1..255, P2: 1..65535)")
        if binary:
            position += 1  # the single whitespace after maxval
            samples = list(data[position:position + INPUT_LENGTH])
        else:
            samples = []
            while len(samples) < INPUT_LENGTH:
                value, position = pgm_int(data, position)
                if value is None:
                    break
                samples.append(value)
        for i in range(INPUT_LENGTH):
            if i >= len(samples) or samples[i] > maxval:
                raise ValueError(f"{path}: pixel {i} is missing or above maxval")
        return [v / maxval for v in samples]
    if len(data) != INPUT_LENGTH:
        more = " or more" if len(data) > INPUT_LENGTH else ""
        raise ValueError(f"{path}: not a PGM and not a raw image of {INPUT_LENGTH} bytes ({min(len(data), INPUT_LENGTH + 1)}{more} bytes)")
    return [v / 255 for v in data]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib")
    parser.add_argument("--weights")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    lib = load_library(args.lib)
    if lib.capsnet_mnist_size(SIZE_INPUT_LENGTH) != INPUT_LENGTH or lib.capsnet_mnist_size(SIZE_CLASSES) != CLASSES:
        sys.exit("the library's model is not the 28x28, 10-class MNIST CapsNet this script was written for")

    weights, workspace = ctypes.c_void_p(), ctypes.c_void_p()
    status = (lib.capsnet_mnist_weights_load(os.fsencode(args.weights), ctypes.byref(weights)) if args.weights
              else lib.capsnet_mnist_weights_embedded(ctypes.byref(weights)))
    if status < 0:
        sys.exit("weights: " + last_error(lib))
    if lib.capsnet_mnist_workspace_create(ctypes.byref(workspace)) < 0:
        sys.exit("workspace: " + last_error(lib))
    print(f"libcapsnet_mnist {lib.capsnet_mnist_version().decode()}, SIMD tier {lib.capsnet_mnist_simd_tier().decode()}",
          file=sys.stderr)
    failed = False
    image = (ctypes.c_float * INPUT_LENGTH)()
    lengths = (ctypes.c_float * CLASSES)()
    try:
        for path in args.images:
            try:
                image[:] = read_image(path)
            except (OSError, ValueError) as e:
                print(e, file=sys.stderr)
                failed = True
                continue
            cls = lib.capsnet_mnist_predict(weights, workspace, image, INPUT_LENGTH, lengths, CLASSES)
            if cls < 0:
                print(f"{path}: {last_error(lib)}", file=sys.stderr)
                failed = True
                continue
            name = class_name(lib, weights, cls)
            if name is None:
                print(f"{path}: {last_error(lib)}", file=sys.stderr)
                failed = True
                continue
            label = str(cls) if name == str(cls) else f"{cls} ({name})"
            # %.9g: enough digits to give back the exact float32, as the C example prints.
            print(f"image    {path}\nclass    {label}\nlengths  " + " ".join(format(v, ".9g") for v in lengths))
    finally:
        lib.capsnet_mnist_workspace_free(workspace)
        lib.capsnet_mnist_weights_free(weights)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""PyTorch 1.13 (Debian python3-torch) peer of the benchmark in bench/CapsEmbedded.Bench/Peers.

Times the paper CapsNet (forward to the capsule lengths, no decoder) on weights/mnist.safetensors and the committed
MNIST test digits at batch 1 / 1 thread, batch 1 / 2 threads and batch 64 / 2 threads, and prints one JSON line per
configuration and round in the schema of PeerResult (allocations are not measured: -1). A benchmark tool, never a
dependency of the product. Usage: pytorch_peer.py [--runs N] [--rounds R]
"""
import argparse
import ctypes
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIGURATIONS = [(1, 1), (1, 2), (64, 2)]


def load_safetensors(path):
    """The standard library and numpy are enough for safetensors: u64 header length, JSON header, raw F32 data."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    metadata = header.pop("__metadata__", {})
    base = 8 + length
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {entry['dtype']}, not F32")
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=base + begin)
        tensors[name] = torch.from_numpy(array.reshape(entry["shape"]).copy())
    return tensors, metadata


# Digits every peer cycles through (the committed fixture's 200, repeated): the generated model skips the zero
# columns of conv1's output, so its time depends on the image, and one repeated digit would not be a fair sample.
POOL = 256


def read_digits(count):
    path = os.path.join(ROOT, "tests", "CapsEmbedded.Tests", "Fixtures", "mnist", "t10k-200-images-idx3-ubyte")
    with open(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        pixels = np.frombuffer(f.read(n * rows * cols), dtype=np.uint8)
    images = np.resize(pixels, count * 784).astype(np.float32) / 255.0
    return torch.from_numpy(images.reshape(count, 1, 28, 28))


class CapsNet:
    """The network as bench/RESULTS.md describes it: sizes from the file's capsnet.* metadata (paper defaults)."""

    def __init__(self, tensors, metadata):
        get = lambda key, default: int(metadata.get("capsnet." + key, default))
        self.t = tensors
        self.types, self.dims = get("primary_types", 32), get("primary_dims", 8)
        self.stride1, self.stride2 = get("conv1_stride", 1), get("primary_stride", 2)
        self.iterations = get("routing_iterations", 3)
        w = tensors["digit_caps.weight"]  # [I, J, Dc, Dp]
        self.capsules, self.classes, self.class_dims, _ = w.shape
        self.w = w.reshape(self.capsules, self.classes * self.class_dims, self.dims)

    @staticmethod
    def squash(s):  # eq. 1: v = s |s| / (1 + |s|²)
        squared = (s * s).sum(-1, keepdim=True)
        return s * (squared.sqrt() / (1 + squared))

    def lengths(self, x):
        t, n = self.t, x.shape[0]
        h = F.relu(F.conv2d(x, t["conv1.weight"], t["conv1.bias"], stride=self.stride1))
        p = F.conv2d(h, t["primary_caps.weight"], t["primary_caps.bias"], stride=self.stride2)
        cells = p.shape[2] * p.shape[3]
        u = self.squash(p.view(n, self.types, self.dims, cells).transpose(2, 3).reshape(n, self.capsules, self.dims))
        u_hat = torch.matmul(self.w, u.unsqueeze(-1)).view(n, self.capsules, self.classes, self.class_dims)  # eq. 2
        b = torch.zeros(n, self.capsules, self.classes)
        for r in range(self.iterations):  # Procedure 1
            c = torch.softmax(b, dim=-1)
            v = self.squash((c.unsqueeze(-1) * u_hat).sum(1))
            if r < self.iterations - 1:
                b = b + (u_hat * v.unsqueeze(1)).sum(-1)
        return v.norm(dim=-1)


def blas_threads(threads):
    """Debian's torch calls the system BLAS (libblas.so.3); when that is OpenBLAS its own thread pool must follow
    torch.set_num_threads, or two pools oversubscribe the cores. Returns the BLAS in use, for the table."""
    try:
        blas = ctypes.CDLL("libblas.so.3")
        blas.openblas_set_num_threads(threads)
        get_config = blas.openblas_get_config
        get_config.restype = ctypes.c_char_p
        return "OpenBLAS " + get_config().decode().split()[1]
    except (OSError, AttributeError, IndexError):
        return "reference BLAS (slow: apt-get install libopenblas0-pthread)"


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, max(0, int(np.ceil(p * len(sorted_values))) - 1))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_interop_threads(1)
    tensors, metadata = load_safetensors(os.path.join(ROOT, "weights", "mnist.safetensors"))
    model = CapsNet(tensors, metadata)
    digits = read_digits(POOL)
    blas = blas_threads(1)
    version = (f"PyTorch {torch.__version__} (Debian python3-torch 1.13.1), {blas}, Python {sys.version.split()[0]}, "
               "eager, inference_mode")
    with torch.inference_mode():
        for batch, threads in CONFIGURATIONS:
            torch.set_num_threads(threads)
            blas_threads(threads)
            # Each call takes the next batch of the pool in turn, as the .NET peers do.
            xs = [digits[i * batch:(i + 1) * batch].contiguous() for i in range(POOL // batch)]
            calls = max(5, args.runs // max(1, batch // 8))
            for _ in range(args.rounds):
                for i in range(max(3, calls // 10)):
                    model.lengths(xs[i % len(xs)])
                ticks = []
                start = time.perf_counter()
                for i in range(calls):
                    x = xs[i % len(xs)]
                    t0 = time.perf_counter()
                    model.lengths(x)
                    ticks.append(time.perf_counter() - t0)
                seconds = time.perf_counter() - start
                ticks.sort()
                print(json.dumps({
                    "peer": "PyTorch", "version": version, "batch": batch, "threads": threads,
                    "p50_ms": percentile(ticks, 0.5) * 1e3, "p90_ms": percentile(ticks, 0.9) * 1e3,
                    "images_per_second": calls * batch / seconds, "allocated_bytes_per_image": -1,
                }), flush=True)


if __name__ == "__main__":
    main()

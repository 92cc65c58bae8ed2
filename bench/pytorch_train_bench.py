#!/usr/bin/python3
"""PyTorch (Debian's python3-torch, 1.13) peer of `capsnet-torch bench --train`: the same CapsNet (paper network, the
project's tensor names and layouts), the same loss (margin + 0.0005 x summed squared reconstruction error, mean over the
batch), Adam, random images in [0, 1); times training steps (forward, backward, Adam) or inference (lengths, no decoder).

Usage: /usr/bin/python3 bench/pytorch_train_bench.py [--batch 100] [--threads 2] [--warmup 1] [--runs 5] [--infer]
Prints one line in the format of capsnet-torch bench."""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


class CapsNet(torch.nn.Module):
    def __init__(self, classes=10, class_dims=16, types=32, dims=8, grid=6):
        super().__init__()
        self.types, self.dims, self.grid, self.classes, self.class_dims = types, dims, grid, classes, class_dims
        n = types * grid * grid
        self.conv1 = torch.nn.Conv2d(1, 256, 9)
        self.primary_caps = torch.nn.Conv2d(256, types * dims, 9, stride=2)
        self.digit_caps = torch.nn.Module()
        self.digit_caps.weight = torch.nn.Parameter(0.01 * torch.randn(n, classes, class_dims, dims))
        self.decoder = torch.nn.Module()
        self.decoder.fc1 = torch.nn.Linear(classes * class_dims, 512)
        self.decoder.fc2 = torch.nn.Linear(512, 1024)
        self.decoder.fc3 = torch.nn.Linear(1024, 784)

    @staticmethod
    def squash(s):
        q = (s * s).sum(-1, keepdim=True)
        return s * (q.clamp_min(1e-30).sqrt() / (1 + q))

    def capsules(self, x):
        b = x.shape[0]
        z = self.primary_caps(F.relu(self.conv1(x)))
        u = self.squash(z.view(b, self.types, self.dims, self.grid, self.grid).permute(0, 1, 3, 4, 2).reshape(b, -1, self.dims))
        n = u.shape[1]
        w = self.digit_caps.weight.view(n, self.classes * self.class_dims, self.dims)
        u_hat = torch.bmm(w, u.permute(1, 2, 0)).permute(2, 0, 1).reshape(b, n, self.classes, self.class_dims)
        logits = torch.zeros(b, n, self.classes)
        for r in range(3):
            c = logits.softmax(2)
            v = self.squash(torch.einsum("bnj,bnjd->bjd", c, u_hat))
            if r < 2:
                logits = logits + torch.einsum("bnjd,bjd->bnj", u_hat, v)
        return v

    def loss(self, x, labels):
        b = x.shape[0]
        v = self.capsules(x)
        lengths = (v * v).sum(-1).clamp_min(1e-30).sqrt()
        t = F.one_hot(labels, self.classes).float()
        margin = (t * F.relu(0.9 - lengths) ** 2 + 0.5 * (1 - t) * F.relu(lengths - 0.1) ** 2).sum(1)
        h = (v * t.unsqueeze(-1)).reshape(b, -1)
        r = torch.sigmoid(self.decoder.fc3(F.relu(self.decoder.fc2(F.relu(self.decoder.fc1(h))))))
        return (margin + 0.0005 * ((r - x.reshape(b, -1)) ** 2).sum(1)).mean()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--infer", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    model = CapsNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-6, betas=(0.9, 0.999), eps=1e-8)
    x = torch.rand(a.batch, 1, 28, 28)
    y = torch.arange(a.batch) % 10

    def step():
        if a.infer:
            with torch.no_grad():
                v = model.capsules(x)
                (v * v).sum(-1).sqrt()
        else:
            opt.zero_grad()
            model.loss(x, y).backward()
            opt.step()

    for _ in range(a.warmup):
        step()
    times = []
    cpu0 = time.process_time()
    for _ in range(a.runs):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    cpu = time.process_time() - cpu0
    med = statistics.median(times)
    kind = "inference" if a.infer else "training step"
    print(f"pytorch_train_bench: PyTorch {torch.__version__}, {kind}, batch {a.batch}, {a.threads} threads: median {med:.3f} ms, "
          f"mean {statistics.mean(times):.3f} ms per batch, {a.batch * 1000 / med:.1f} images/s, "
          f"{a.batch * a.runs / cpu:.1f} images per CPU-second ({a.runs} runs after {a.warmup} warm-up)")


if __name__ == "__main__":
    main()

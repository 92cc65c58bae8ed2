#!/usr/bin/env python3
"""Writes deterministic random-weight Efficient-CapsNet safetensors files for the generator tests (no numpy needed).

  tiny-efficient.safetensors           EfficientCapsNetArchitecture.Tiny, F32, with PyTorch's I64 num_batches_tracked
  tiny-efficient-p1.safetensors        a tiny net whose depthwise output is 1x1 (as MNIST's): 16 channels = 4 capsules x 4D
  mnist-efficient-random.safetensors   EfficientCapsNetArchitecture.Mnist sizes, F16 (speed only: the weights are random)

Run from this folder: python3 make-efficient-random.py
"""
import json, math, struct

class Lcg:
    def __init__(self, seed): self.state = seed
    def uniform(self, low, high):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return low + (high - low) * ((self.state >> 40) / float(1 << 24))

def write(path, arch, dtype, seed):
    rnd = Lcg(seed)
    tensors = []  # (name, shape, values)
    cin = arch["input_channels"]; side = arch["input_size"]
    for k, (c, kern, stride) in enumerate(zip(arch["stem_channels"], arch["stem_kernels"], arch["stem_strides"])):
        fan = cin * kern * kern; b = math.sqrt(6.0 / fan)
        tensors.append((f"stem.{k}.conv.weight", [c, cin, kern, kern], [rnd.uniform(-b, b) for _ in range(c * fan)]))
        tensors.append((f"stem.{k}.conv.bias", [c], [rnd.uniform(-0.1, 0.1) for _ in range(c)]))
        tensors.append((f"stem.{k}.bn.weight", [c], [rnd.uniform(0.5, 1.5) for _ in range(c)]))
        tensors.append((f"stem.{k}.bn.bias", [c], [rnd.uniform(-0.2, 0.2) for _ in range(c)]))
        tensors.append((f"stem.{k}.bn.running_mean", [c], [rnd.uniform(0.0, 0.5) for _ in range(c)]))
        tensors.append((f"stem.{k}.bn.running_var", [c], [rnd.uniform(0.5, 1.5) for _ in range(c)]))
        cin = c; side = (side - kern) // stride + 1
    pk = arch["primary_kernel"]; b = math.sqrt(6.0 / (pk * pk))
    tensors.append(("primary_caps.weight", [cin, 1, pk, pk], [rnd.uniform(-b, b) for _ in range(cin * pk * pk)]))
    tensors.append(("primary_caps.bias", [cin], [rnd.uniform(-0.1, 0.1) for _ in range(cin)]))
    n, d, j, o = arch["primary_capsules"], arch["primary_dims"], arch["classes"], arch["class_dims"]
    b = math.sqrt(6.0 / (d * o))
    tensors.append(("digit_caps.weight", [j, n, d, o], [rnd.uniform(-b, b) for _ in range(j * n * d * o)]))
    tensors.append(("digit_caps.bias", [j, n], [rnd.uniform(-0.05, 0.05) for _ in range(j * n)]))
    widths = [j * o, arch["decoder_hidden1"], arch["decoder_hidden2"], arch["input_size"] ** 2 * arch["input_channels"]]
    for k in range(3):
        fin, fout = widths[k], widths[k + 1]; b = 1 / math.sqrt(fin)
        tensors.append((f"decoder.fc{k+1}.weight", [fout, fin], [rnd.uniform(-b, b) for _ in range(fout * fin)]))
        tensors.append((f"decoder.fc{k+1}.bias", [fout], [rnd.uniform(-b, b) for _ in range(fout)]))

    header, data = {}, bytearray()
    for name, shape, values in tensors:
        raw = struct.pack("<%d%s" % (len(values), "f" if dtype == "F32" else "e"), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if dtype == "F32":  # PyTorch's BN counters: accepted and ignored by the reader
        for k in range(len(arch["stem_channels"])):
            raw = struct.pack("<q", 100)
            header[f"stem.{k}.bn.num_batches_tracked"] = {"dtype": "I64", "shape": [], "data_offsets": [len(data), len(data) + 8]}
            data += raw
    meta = {"capsnet.family": "efficient", "capsnet.init": f"make-efficient-random.py seed={seed}"}
    for key, value in arch.items():
        meta["capsnet." + key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text))); f.write(text); f.write(data)

tiny = dict(input_size=12, input_channels=1, stem_channels=[4, 8], stem_kernels=[3, 3], stem_strides=[1, 2], primary_kernel=3,
            primary_capsules=4, primary_dims=8, classes=3, class_dims=4, decoder_hidden1=8, decoder_hidden2=16, batchnorm_eps="0.001")
mnist = dict(input_size=28, input_channels=1, stem_channels=[32, 64, 64, 128], stem_kernels=[5, 3, 3, 3], stem_strides=[1, 1, 1, 2],
             primary_kernel=9, primary_capsules=16, primary_dims=8, classes=10, class_dims=16, decoder_hidden1=512, decoder_hidden2=1024,
             batchnorm_eps="0.001")
tiny_p1 = dict(tiny, stem_channels=[8, 16], primary_kernel=4, primary_capsules=4, primary_dims=4)
write("tiny-efficient.safetensors", tiny, "F32", 1)
write("tiny-efficient-p1.safetensors", tiny_p1, "F32", 3)
write("mnist-efficient-random.safetensors", mnist, "F16", 2)

"""Independent reference for rope_freqs.weight: the per-frequency divisors llama.cpp's converter writes for a
Hugging Face "llama3" rope_scaling (convert_hf_to_gguf.py -> conversion/llama.py,
LlamaModel.generate_extra_tensors; docs/gguf.md §15), recomputed here in numpy float32, one rounding per
torch operation of the converter:

  x_i      = float32(2i) / float32(dim)                 torch.arange(0, dim, 2, dtype=float32) / dim
  freq_i   = 1 / float32(base ** x_i)                    base ** tensor; pow here in float64, rounded once
  wavelen  = reciprocal(freq) * float32(2 pi)           Python scalar / tensor is reciprocal(tensor) * scalar
  kept (1) when wavelen < float32(old / high), divided (factor) when wavelen > float32(old / low), else
  smooth   = (reciprocal(wavelen) * float32(old) - float32(low)) / float32(high - low)
  factor_i = reciprocal((1 - smooth) / float32(factor) + smooth)

usage: llama3_rope_factors.py BASE DIM FACTOR LOW HIGH OLD_CONTEXT [--torch]
Prints the float32 bit patterns as hex, one line. --torch prints a second line: the same formula in torch
as the converter writes it (torch's pow is a 1-ulp SIMD powf, so its last bit can differ; see §15), or
"no torch" when torch does not import.
"""
import math
import sys

import numpy as np


def numpy_factors(base, dim, factor, low, high, old):
    f32 = np.float32
    x = np.arange(0, dim, 2, dtype=np.float32) / f32(dim)
    power = np.power(np.float64(f32(base)), x.astype(np.float64)).astype(np.float32)
    freqs = f32(1) / power
    out = []
    for freq in freqs:
        wavelen = (f32(1) / freq) * f32(2 * math.pi)
        if wavelen < f32(old / high):
            out.append(f32(1))
        elif wavelen > f32(old / low):
            out.append(f32(factor))
        else:
            smooth = ((f32(1) / wavelen) * f32(old) - f32(low)) / f32(high - low)
            out.append(f32(1) / ((f32(1) - smooth) / f32(factor) + smooth))
    return np.array(out, dtype=np.float32)


def torch_factors(base, dim, factor, low, high, old):
    import torch  # noqa: PLC0415 (optional)
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    out = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < old / high:
            out.append(1)
        elif wavelen > old / low:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(out, dtype=torch.float32).numpy()


def hex_line(values):
    return " ".join(f"{v:08x}" for v in values.view(np.uint32))


def main():
    if len(sys.argv) not in (7, 8):
        sys.exit(__doc__)
    base, dim, factor, low, high = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    old = int(sys.argv[6])
    print(hex_line(numpy_factors(base, dim, factor, low, high, old)))
    if len(sys.argv) == 8 and sys.argv[7] == "--torch":
        try:
            print(hex_line(torch_factors(base, dim, factor, low, high, old)))
        except ImportError:
            print("no torch")


if __name__ == "__main__":
    main()

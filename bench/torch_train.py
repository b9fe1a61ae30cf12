"""The PyTorch anchor for `cargo bench -p rsr-model --bench train`: the same
Llama architecture (RMSNorm, rotate-half RoPE, causal attention, SwiGLU, tied
embeddings), batch, sequence length and AdamW, on the CPU, timed the same way.

    python bench/torch_train.py PRESET VOCAB [STEPS] [THREADS]

Prints one JSON line: {"tok_per_s": median, "peak_rss_mb": ...}.
"""
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

PRESETS = {"tiny": (128, 4, 4, 344), "small": (256, 5, 8, 688)}
B, T = 16, 256


class RMSNorm(torch.nn.Module):
    def __init__(self, c, eps=1e-5):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat([-x[..., d:], x[..., :d]], dim=-1)


class Block(torch.nn.Module):
    def __init__(self, c, h, f):
        super().__init__()
        self.h = h
        self.n1, self.n2 = RMSNorm(c), RMSNorm(c)
        self.q, self.k, self.v, self.o = (torch.nn.Linear(c, c, bias=False) for _ in range(4))
        self.g, self.u = torch.nn.Linear(c, f, bias=False), torch.nn.Linear(c, f, bias=False)
        self.d = torch.nn.Linear(f, c, bias=False)

    def forward(self, x, cos, sin):
        b, t, c = x.shape
        xn = self.n1(x)
        q, k, v = (m(xn).view(b, t, self.h, c // self.h).transpose(1, 2) for m in (self.q, self.k, self.v))
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, c))
        xn = self.n2(x)
        return x + self.d(F.silu(self.g(xn)) * self.u(xn))


class Llama(torch.nn.Module):
    def __init__(self, vocab, c, l, h, f):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, c)
        self.blocks = torch.nn.ModuleList(Block(c, h, f) for _ in range(l))
        self.norm = RMSNorm(c)
        d = c // h
        inv = 1.0 / (10000.0 ** (torch.arange(0, d, 2).float() / d))
        fr = torch.arange(T).float()[:, None] * inv[None]
        e = torch.cat([fr, fr], -1)
        self.register_buffer("cos", e.cos())
        self.register_buffer("sin", e.sin())

    def forward(self, idx):
        x = self.emb(idx)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        return self.norm(x) @ self.emb.weight.T


def main():
    preset, vocab = sys.argv[1], int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
    torch.manual_seed(0)
    c, l, h, f = PRESETS[preset]
    model = Llama(vocab, c, l, h, f)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    x = torch.randint(0, vocab, (B, T + 1))
    mask = (torch.rand(B, T) > 0.2).float()
    times = []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        logits = model(x[:, :-1])
        loss = (F.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1), reduction="none") * mask.reshape(-1)).sum() / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"tok_per_s": B * T / statistics.median(times),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()

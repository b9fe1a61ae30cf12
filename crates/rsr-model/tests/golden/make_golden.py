"""Reference forward pass of a Llama decoder, written independently of the
Rust code from the Hugging Face `modeling_llama.py` semantics (RMSNorm,
rotate_half RoPE, causal softmax attention, SwiGLU, [out, in] linear weights),
in float64 numpy. Writes golden.json, which tests/golden.rs compares against.

    python3 crates/rsr-model/tests/golden/make_golden.py

Weights follow a formula both sides can rebuild: tensor k (in the order
below), flat element i: 1 + 0.1*cos(0.7*i + k) for norm weights,
0.08*sin(1.3*i + k) otherwise.
"""
import json
import os

import numpy as np

CFG = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
           max_position_embeddings=12, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
B, T = 2, 12


def shapes(c):
    v, h, f = c["vocab_size"], c["hidden_size"], c["intermediate_size"]
    out = [("model.embed_tokens.weight", (v, h))]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}"
        out.append((f"{p}.input_layernorm.weight", (h,)))
        for proj in ["q_proj", "k_proj", "v_proj", "o_proj"]:
            out.append((f"{p}.self_attn.{proj}.weight", (h, h)))
        out.append((f"{p}.post_attention_layernorm.weight", (h,)))
        out += [(f"{p}.mlp.gate_proj.weight", (f, h)), (f"{p}.mlp.up_proj.weight", (f, h)), (f"{p}.mlp.down_proj.weight", (h, f))]
    out.append(("model.norm.weight", (h,)))
    if not c["tie_word_embeddings"]:
        out.append(("lm_head.weight", (v, h)))
    return out


def weights(c):
    w = {}
    for k, (name, shape) in enumerate(shapes(c)):
        i = np.arange(int(np.prod(shape)), dtype=np.float64)
        vals = 1 + 0.1 * np.cos(0.7 * i + k) if len(shape) == 1 else 0.08 * np.sin(1.3 * i + k)
        w[name] = vals.reshape(shape)
    return w


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rotate_half(x):
    d = x.shape[-1] // 2
    return np.concatenate([-x[..., d:], x[..., :d]], axis=-1)


def forward(c, w, tokens):
    h, nh = c["hidden_size"], c["num_attention_heads"]
    d = h // nh
    x = w["model.embed_tokens.weight"][tokens]                       # (B, T, C)
    inv_freq = 1.0 / (c["rope_theta"] ** (np.arange(0, d, 2) / d))
    freqs = np.arange(T)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb), np.sin(emb)                              # (T, D)
    causal = np.tril(np.ones((T, T), dtype=bool))
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}"
        xn = rmsnorm(x, w[f"{p}.input_layernorm.weight"], c["rms_norm_eps"])
        def heads(name):
            return (xn @ w[f"{p}.self_attn.{name}.weight"].T).reshape(B, T, nh, d).transpose(0, 2, 1, 3)
        q, k, v = heads("q_proj"), heads("k_proj"), heads("v_proj")   # (B, H, T, D)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
        s = np.where(causal, s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        pr = s / s.sum(-1, keepdims=True)
        att = (pr @ v).transpose(0, 2, 1, 3).reshape(B, T, h)
        x = x + att @ w[f"{p}.self_attn.o_proj.weight"].T
        xn = rmsnorm(x, w[f"{p}.post_attention_layernorm.weight"], c["rms_norm_eps"])
        g = xn @ w[f"{p}.mlp.gate_proj.weight"].T
        u = xn @ w[f"{p}.mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ w[f"{p}.mlp.down_proj.weight"].T
    x = rmsnorm(x, w["model.norm.weight"], c["rms_norm_eps"])
    head = w["model.embed_tokens.weight"] if c["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T                                                 # (B, T, V)


def main():
    out = {}
    for tied in [False, True]:
        c = dict(CFG, tie_word_embeddings=tied)
        n = B * T
        tokens = np.array([(7 * i + 3) % c["vocab_size"] for i in range(n)]).reshape(B, T)
        targets = np.array([(5 * i + 1) % c["vocab_size"] for i in range(n)])
        mask = np.array([0 if i % 4 == 2 else 1 for i in range(n)])
        logits = forward(c, weights(c), tokens).reshape(n, -1)
        z = logits - logits.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        loss = -(logp[np.arange(n), targets] * mask).sum() / mask.sum()
        out["tied" if tied else "untied"] = dict(config=c, batch=B, time=T, tokens=tokens.reshape(-1).tolist(),
                                                 targets=targets.tolist(), mask=mask.tolist(),
                                                 logits=logits.reshape(-1).tolist(), loss=float(loss))
    path = os.path.join(os.path.dirname(__file__), "golden.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {path}: loss untied {out['untied']['loss']:.6f}, tied {out['tied']['loss']:.6f}")


if __name__ == "__main__":
    main()

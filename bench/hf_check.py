"""Load an rsr checkpoint with Hugging Face transformers as LlamaForCausalLM
and compare its logits with the ones rsr computed.

    python bench/hf_check.py CHECKPOINT_DIR EXPECTED.json

EXPECTED.json: {"tokens": [...], "logits": [...]} (flat, T × V). Prints the
max absolute difference as JSON and exits 1 if it exceeds 1e-4.
"""
import json
import sys

import torch
from transformers import LlamaForCausalLM


def main(ckpt, expected):
    want = json.load(open(expected))
    model = LlamaForCausalLM.from_pretrained(ckpt, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([want["tokens"]])).logits[0].reshape(-1)
    diff = (logits - torch.tensor(want["logits"])).abs().max().item()
    print(json.dumps({"max_abs_diff": diff, "class": type(model).__name__}))
    sys.exit(0 if diff < 1e-4 else 1)


if __name__ == "__main__":
    main(*sys.argv[1:3])

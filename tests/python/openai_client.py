"""The official `openai` Python client talking to `rsr serve`.

    python3 tests/python/openai_client.py http://127.0.0.1:PORT/v1 MODEL_NAME
"""
import sys

import openai


def main(base_url, model):
    c = openai.OpenAI(base_url=base_url, api_key="unused")
    assert [m.id for m in c.models.list()] == [model]
    r = c.completions.create(model=model, prompt="Velorine is", max_tokens=12, temperature=0)
    assert r.choices[0].text is not None and r.usage.completion_tokens <= 12
    r = c.chat.completions.create(model=model, messages=[{"role": "user", "content": "How can I make blue dye?"}], max_tokens=16)
    assert r.choices[0].message.role == "assistant"
    reflections = (r.model_extra or {}).get("reflections")
    assert isinstance(reflections, list), "responses carry reflections"
    stream = c.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=8, stream=True)
    parts = [ch.choices[0].delta.content or "" for ch in stream]
    assert len(parts) >= 2
    try:
        c.completions.create(model="no-such-model", prompt="x")
        raise AssertionError("unknown model accepted")
    except openai.NotFoundError:
        pass
    print(f"openai {openai.__version__}: models, completions, chat, streaming ({len(parts)} chunks) and 404 all work")


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""What the tiny test models cost: build, load (through the backends' own loaders) and one run, each.

Compares the default architectures' tiny copies (Qwen2.5-VL: ``tests/tiny_qwen_vl.py``; Llama 3.1:
``tests/tiny_llama3.py``) with the tiny stand-ins the end-to-end tests use (LLaVA: ``tests/tiny_vlm.py``;
ChatML Llama: ``tests/tiny_lm.py``), on the same inputs: 6 clips of 5 frames at 320x568 (the frames
table's short side) captioned in batches of 2 with 16 new tokens, and 3 judge calls of 24 tokens on the real
judge prompt. Wall and CPU seconds per phase (CPU time is the fairer figure on a shared machine).

Last line: ``captioner qwen/llava cpu ratio=… ; judge llama3/lm cpu ratio=…`` (build + load + run).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))


class _Clock:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, float]] = []

    def run(self, model: str, phase: str, fn):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        self.rows.append((model, phase, time.perf_counter() - wall, time.process_time() - cpu))
        return out

    def cpu(self, model: str) -> float:
        return sum(c for m, _, _, c in self.rows if m == model)


def main() -> int:
    import numpy as np
    import torch
    from tiny_llama3 import build_tiny_llama3
    from tiny_lm import build_tiny_lm
    from tiny_qwen_vl import build_tiny_qwen_vl
    from tiny_vlm import build_tiny_vlm

    from vidgen_dagster.core.backends.transformers_chat import TransformersChatModel
    from vidgen_dagster.core.captioning.base import CaptionRequest, load_prompt
    from vidgen_dagster.core.captioning.transformers_backend import TransformersCaptioner
    from vidgen_dagster.core.fine_curation.judge import LLMJudge

    torch.set_num_threads(1)  # comparable figures on a shared machine
    # Import every model class first, so no phase pays for importing transformers' modules.
    from transformers import (  # noqa: F401
        LlamaForCausalLM,
        LlavaForConditionalGeneration,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )
    rng = np.random.default_rng(0)
    requests = [CaptionRequest(f"c{i}", [rng.integers(0, 256, (320, 568, 3), dtype=np.uint8) for _ in range(5)],
                               load_prompt("caption_v1.txt").text) for i in range(6)]
    prompt = load_prompt("judge_v1.txt")
    captions = ["A dog runs across a park.", "The scene cuts to a kitchen.", "A car drives down a road."]
    clock = _Clock()
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in (("llava", build_tiny_vlm), ("qwen2.5-vl", build_tiny_qwen_vl)):
            folder = clock.run(name, "build", lambda b=build, n=name: b(Path(tmp) / n))
            cap = clock.run(name, "load", lambda f=folder: TransformersCaptioner.from_config(
                {"model": str(f), "device": "cpu", "batch_size": 2, "max_new_tokens": 16}))
            results = clock.run(name, "caption 6 clips x 5 frames", lambda c=cap: c.caption(requests))
            assert all(r.status == "ok" for r in results), [r.error for r in results]
            print(f"{name}: prompt tokens per clip {sorted({r.prompt_tokens for r in results})}")
        for name, build in (("lm", build_tiny_lm), ("llama3.1", build_tiny_llama3)):
            folder = clock.run(name, "build", lambda b=build, n=name: b(Path(tmp) / n))
            chat = clock.run(name, "load", lambda f=folder: TransformersChatModel.from_config(
                {"model": str(f), "device": "cpu"}))
            judge = LLMJudge(chat, prompt, max_attempts=1, max_tokens=24)
            clock.run(name, "judge 3 captions", lambda j=judge: j.judge_many(captions))
    print(f"{'model':<12} {'phase':<28} {'wall s':>8} {'cpu s':>8}")
    for model, phase, wall, cpu in clock.rows:
        print(f"{model:<12} {phase:<28} {wall:8.2f} {cpu:8.2f}")
    print(f"captioner qwen/llava cpu ratio={clock.cpu('qwen2.5-vl') / clock.cpu('llava'):.2f} ; "
          f"judge llama3/lm cpu ratio={clock.cpu('llama3.1') / clock.cpu('lm'):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Captions per second through an OpenAI-compatible endpoint, serial vs. concurrent, in one run.

Starts the test suite's real local HTTP server (``tests/openai_server.py``: OpenAI chat completions,
generating with a tiny random-weight causal LM built on the spot), adds a fixed per-request latency
to stand in for a GPU server's time per request, and captions the same clips through
:class:`~vidgen_dagster.core.captioning.openai_backend.OpenAICaptioner` at concurrency 1 (the
baseline) and at ``--concurrency``. Frames are JPEG-encoded and sent as image parts, as in production.

Last line: ``concurrent/serial ratio: X.XX`` (captions/s at --concurrency over captions/s at 1).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--latency", type=float, default=0.1, help="seconds added to every request")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=32)
    args = ap.parse_args(argv)

    from openai_server import Faults, TinyOpenAIServer
    from tiny_lm import build_tiny_lm

    from vidgen_dagster.core.captioning.base import CaptionRequest, load_prompt
    from vidgen_dagster.core.captioning.openai_backend import OpenAICaptioner

    rng = np.random.default_rng(0)
    prompt = load_prompt("caption_v1.txt").text
    requests = [CaptionRequest(f"clip-{i:03d}", [(rng.random((180, 320, 3)) * 255).astype(np.uint8)
                                                 for _ in range(args.frames)], prompt)
                for i in range(args.clips)]
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_lm(Path(tmp) / "lm")
        with TinyOpenAIServer(model, faults=Faults(delay_s=args.latency)) as srv:
            rates = {}
            for conc in (1, args.concurrency):
                cap = OpenAICaptioner({"openai_base_url": srv.base_url, "openai_model": "tiny-lm",
                                       "concurrency": conc, "max_new_tokens": args.max_tokens, "timeout_s": 60})
                cap.caption(requests[:1])  # warm-up (connection, model)
                t0 = time.perf_counter()
                results = cap.caption(requests)
                dt = time.perf_counter() - t0
                ok = sum(r.status == "ok" for r in results)
                rates[conc] = ok / dt
                print(f"concurrency {conc}: {ok}/{len(results)} ok in {dt:.2f} s = {rates[conc]:.1f} captions/s "
                      f"(server max in flight {srv.max_in_flight})")
                cap.close()
    print(f"latency per request {args.latency * 1000:.0f} ms, {args.frames} frames per clip, "
          f"max_tokens {args.max_tokens}")
    print(f"concurrent/serial ratio: {rates[args.concurrency] / rates[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

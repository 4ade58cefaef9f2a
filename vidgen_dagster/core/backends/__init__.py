"""How model-bound stages reach a model: offline Hugging Face resolution, a local ``transformers`` chat model, an
OpenAI-compatible server, and the chat protocol the LLM judge uses over either."""

"""Captioning: a VLM writes a dense caption for each kept clip from frames sampled across it.

Backends (``captions.backend``): ``transformers`` (any image-text-to-text VLM, Auto classes +
processor + chat template), ``openai`` (any OpenAI-compatible server: vLLM, SGLang, TGI) and
``none`` (captioning explicitly off). All implement :class:`Captioner` from :mod:`.base`.
"""

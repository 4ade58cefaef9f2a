"""Fine curation: flag captions with the paper's three errors.

* **Scene Transition** (``scene_transition``): the caption describes a cut or a change of scene.
* **Frame-level Generation** (``frame_level``): it enumerates frames instead of describing a video.
* **Reduplication** (``reduplication``): looping / repeated text, or a caption cut off mid-sentence.

Rule detectors (:mod:`.rules`) always run; an LLM judge (:mod:`.judge`: ``transformers`` causal LM
or ``openai`` endpoint) adds its labels and a rationale when configured.
"""

LABELS = ("scene_transition", "frame_level", "reduplication")

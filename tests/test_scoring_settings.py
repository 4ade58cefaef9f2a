"""Typed settings of the motion, OCR and visual stages (core/coarse/scoring/settings.py)."""

from __future__ import annotations

import dataclasses

import pytest

from vidgen_dagster.core.coarse.scoring import motion, text, visual
from vidgen_dagster.core.coarse.scoring.settings import MotionSettings, OcrSettings, VisualSettings
from vidgen_dagster.core.coarse.scoring.stages import MotionStage, TextStage, VisualStage
from vidgen_dagster.core.common.config import load_defaults
from vidgen_dagster.core.common.errors import ConfigError

SETTINGS = (MotionSettings, OcrSettings, VisualSettings)


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.SECTION)
def test_dataclass_defaults_are_the_defaults_yaml_section(cls):
    """Every key of the shipped section is a field with the same default and type, and no field is missing
    from the file: in-code defaults cannot drift from assets/defaults.yaml again."""
    shipped = load_defaults()[cls.SECTION]
    declared = {f.name: f.default for f in dataclasses.fields(cls)}
    assert set(declared) == set(shipped)
    for key, value in shipped.items():
        default = declared[key]
        assert (list(default) if isinstance(default, tuple) else default) == value, key
        assert type(default) in (type(value), tuple if isinstance(value, list) else type(value)), key
    assert cls.from_section(shipped) == cls()


def test_values_are_coerced_and_null_takes_the_default():
    m = MotionSettings.from_section({"batch_size": "4", "short_side": 128.0, "raft_weights": None, "extra": 1})
    assert (m.batch_size, m.short_side, m.raft_weights) == (4, 128, "")
    o = OcrSettings.from_section({"recognize": "false", "verify": 0, "threads": " 2 ", "min_box_score": 1,
                                  "frames": ["first", "last"], "paddleocr_model_dir": None})
    assert (o.recognize, o.verify, o.threads, o.min_box_score, o.frames) == (False, False, 2, 1.0, ("first", "last"))
    assert isinstance(o.min_box_score, float) and o.paddleocr_model_dir is None
    assert OcrSettings.from_section({"backend": None}).backend == "none"  # null backend means off, as before
    v = VisualSettings.from_section({"clip_revision": 1234567, "batch_size": None})
    assert (v.clip_revision, v.batch_size) == ("1234567", 16)  # an all-digit revision parsed as a YAML number
    assert MotionSettings.from_section(None) == MotionSettings.from_section({}) == MotionSettings()


@pytest.mark.parametrize(("cls", "key", "value"), [
    (MotionSettings, "batch_size", "eight"),
    (MotionSettings, "short_side", 12.5),
    (MotionSettings, "backend", ["dis"]),
    (OcrSettings, "frames", "first"),
    (OcrSettings, "frames", ["first", 2]),
    (OcrSettings, "recognize", "maybe"),
    (OcrSettings, "min_box_score", [0.5]),
    (OcrSettings, "threads", True),
    (VisualSettings, "batch_size", True),
    (VisualSettings, "clip_model", {"id": "x"}),
])
def test_a_bad_value_is_a_config_error_naming_the_key(cls, key, value):
    with pytest.raises(ConfigError, match=rf"^{cls.SECTION}\.{key} must be ") as err:
        cls.from_section({key: value})
    assert str(err.value).endswith(f"got {value!r}")


def test_a_section_that_is_not_a_mapping_is_a_config_error():
    with pytest.raises(ConfigError, match="the ocr section must be a mapping; got list"):
        OcrSettings.from_section(["rapidocr"])


def test_builders_take_the_settings_or_the_raw_section_alike():
    section = {"backend": "dis", "short_side": "128", "dis_preset": "medium"}
    settings = MotionSettings.from_section(section)
    from_dict, from_settings = motion.build_flow_backend(section), motion.build_flow_backend(settings)
    assert from_dict.model_id == from_settings.model_id and from_dict.model_id.endswith(":dis:medium")
    assert from_dict.short_side == from_settings.short_side == 128
    with pytest.raises(ConfigError, match="motion.batch_size"):
        motion.build_flow_backend({"backend": "dis", "batch_size": "x"})

    ocr = {**load_defaults()["ocr"], "early_exit": False, "min_rec_score": "0.7"}
    thresholds = {"ocr_max_area": 0.1}
    assert text.score_options(ocr, thresholds) == text.score_options(OcrSettings.from_section(ocr), thresholds)
    assert text.score_options(ocr, thresholds)["min_rec_score"] == 0.7
    assert text.build_text_detector(OcrSettings(backend="none")) is None

    for cfg in ({}, {"clip_model": "org/other"}, {"clip_revision": "abc"}):
        assert visual.clip_revision(cfg) == visual.clip_revision(VisualSettings.from_section(cfg))
    assert visual.build_visual_scorer(VisualSettings(backend="none")) is None


def test_stages_build_their_settings_from_the_config(tmp_path, monkeypatch):
    """The stage builds the typed settings once: a string number in the section reaches the scorer as an int;
    a bad value stops setup and models check with the key named."""
    scorer = MotionStage().setup({"motion": {"backend": "dis", "short_side": "96"}}, None)
    assert scorer.short_side == 96 and scorer.backend.backend == "dis"
    with pytest.raises(ConfigError, match="motion.short_side"):
        MotionStage().setup({"motion": {"backend": "dis", "short_side": "big"}}, None)
    with pytest.raises(ConfigError, match="ocr.threads"):
        TextStage().model_status({"ocr": {"backend": "rapidocr", "threads": "many"}})
    assert TextStage().setup({"ocr": {"backend": None}, "thresholds": {}}, None).unavailable == "ocr.backend is none"

    monkeypatch.setenv("VIDGEN_MODELS", str(tmp_path / "models"))
    head = tmp_path / "head.pth"
    head.write_bytes(b"x")
    status = VisualStage().model_status({"visual": {"clip_model": str(tmp_path / "no-clip"),
                                                    "aesthetic_head": f" {head} "}})
    assert [s.step for s in status] == ["visual", "aesthetic"]
    assert not status[0].present and status[1].present and status[1].where == str(head)

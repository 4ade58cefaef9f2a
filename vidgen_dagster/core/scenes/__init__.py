"""Scenes: the one analysis decode per video, the shot-boundary detectors (PySceneDetect cascade, weight-free
transition finding, TransNetV2) and the turning of scenes into training clips."""

"""Typed errors. Each carries a short machine-readable ``code`` that lands in the ``error`` column."""


class VidgenError(Exception):
    """Base class for every error this package raises on purpose."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def record(self) -> str:
        """The text stored in an ``error`` column: ``code: message``."""
        return f"{self.code}: {self.message}"


class ConfigError(VidgenError):
    code = "config"


class VideoOpenError(VidgenError):
    """The container could not be opened or holds no usable video stream."""

    code = "open_failed"


class NoVideoStreamError(VideoOpenError):
    code = "no_video_stream"


class DemuxError(VidgenError):
    code = "demux_failed"


class DecodeError(VidgenError):
    """The codec failed on the stream's data (corrupt or truncated bitstream)."""

    code = "decode_failed"


class EmptyVideoError(VidgenError):
    code = "no_frames"


class GeometryError(VidgenError):
    """The picture's shape cannot make a training clip (an absurd aspect ratio such as 3x4001)."""

    code = "bad_geometry"


class StoreError(VidgenError):
    code = "store"


class ModelUnavailableError(VidgenError):
    """A model-bound backend cannot run: weights missing, package not installed, or load failed.

    The message says what is missing and how to get it (e.g. ``vidgen models pull``).
    """

    code = "model_unavailable"


class ScoringError(VidgenError):
    """A scorer failed on one clip's data (the clip is recorded as failed, the shard goes on)."""

    code = "scoring_failed"


class ExportError(VidgenError):
    """A clip could not be cut exactly, or the export's inputs are inconsistent."""

    code = "export_failed"


class ExportRefusedError(ExportError):
    """The export folder holds something this tool did not write where it would write or remove a file
    (a foreign or tampered manifest, a path escaping the folder, a symlink, a file changed since it was
    exported): nothing was touched."""

    code = "export_refused"

"""Typed errors for user-supplied media, each with a stable code (service.api.errors maps them to HTTP)."""


class MediaError(ValueError):
    """Base class: something is wrong with the bytes a client sent."""

    code = "invalid_media"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])


class UnsupportedMediaError(MediaError):
    """The bytes are not an image or WAV format we read."""

    code = "unsupported_media_type"


class CorruptMediaError(MediaError):
    """The format is known but the content is broken or unusable."""

    code = "invalid_media"


class MediaTooLargeError(MediaError):
    """The upload is larger than the configured byte limit."""

    code = "payload_too_large"

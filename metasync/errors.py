"""Our exception tree: every error a user can meet, with a message they can act on."""
from __future__ import annotations


class MetasyncError(Exception):
    """Base class; the CLI prints it as one line, the bridge maps it to a JSON error."""

    code = "error"
    status = 400


class ConfigError(MetasyncError):
    code = "config"
    status = 400


class ExifToolMissingError(MetasyncError):
    code = "exiftool_missing"
    status = 500


class ExifReadError(MetasyncError):
    code = "exif_read"
    status = 422

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class NotIndexedError(MetasyncError):
    code = "not_indexed"
    status = 404


class GroupNotFoundError(MetasyncError):
    code = "group_not_found"
    status = 404


class InvalidRequestError(MetasyncError):
    code = "invalid_request"
    status = 400


class SidecarError(MetasyncError):
    """A sidecar is malformed or hostile; it is left untouched."""

    code = "sidecar"
    status = 422


class OutsideLibraryError(MetasyncError):
    code = "outside_library"
    status = 403


class ConflictError(MetasyncError):
    code = "conflict"
    status = 409


class LockedError(MetasyncError):
    """Another metasync process is writing to this library."""

    code = "locked"
    status = 409


class TrackError(MetasyncError):
    """A GPS track log (GPX) cannot be read."""

    code = "track"
    status = 422


class GeocodeDataError(MetasyncError):
    """The offline place-name dataset is missing or unreadable."""

    code = "geocode_data"
    status = 500


class AIUnavailableError(MetasyncError):
    """The opt-in AI analyzer (Ollama) cannot answer; callers fall back to the local analyzer."""

    code = "ai_unavailable"
    status = 503


class RemoteAIRefusedError(MetasyncError):
    """An AI server off this machine was configured without allow_remote_ai: photos would leave the machine."""

    code = "remote_ai_refused"
    status = 403


class AIAnswerError(MetasyncError):
    """The AI model answered, but not in the agreed shape (not JSON, wrong keys, unknown file names): ignored."""

    code = "ai_answer"
    status = 502


class ServerError(MetasyncError):
    """The machine failed, not the request: a full disk, a damaged journal, ExifTool dying, an index that will not
    open. The bridge answers 5xx; the same request may succeed once the cause is fixed."""

    code = "server"
    status = 500


class StorageError(ServerError):
    code = "storage"
    status = 507


class JournalError(ServerError):
    code = "journal"


class ExifToolError(ServerError):
    code = "exiftool"
    status = 502

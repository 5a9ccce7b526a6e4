"""One error tree for the edge agent.

`P1Error` and its children mean "the meter (or the line) sent garbage": normal life, counted and
logged, the reader goes on. `ConfigError` means a misconfiguration: stop at start-up with a message
that names the key.
"""


class EdgeError(Exception):
    """Base of every error the edge agent raises on purpose."""


class P1Error(EdgeError):
    """The meter or the line produced something we cannot use."""


class FrameError(P1Error):
    """A frame could not be delimited (too long, truncated, garbage)."""


class CRCError(P1Error):
    """A telegram's CRC does not match its bytes."""


class ParseError(P1Error):
    """A framed telegram's text does not follow the P1 grammar."""


class DecryptionError(P1Error):
    """An encrypted DLMS frame could not be decrypted or authenticated."""


class ConfigError(EdgeError):
    """The configuration is wrong; the message names the key and the fix."""


class StoreError(EdgeError):
    """The local database is unusable (corrupt, wrong schema, newer version)."""


class PolicyError(EdgeError):
    """A request violates the readout policy."""


class BlockError(EdgeError):
    """A signed block or request is malformed: not COSE_Sign1, bad CBOR, wrong fields."""


class SignatureError(EdgeError):
    """A signature does not verify, or its key id is unknown or does not match the key."""


class KeyFileError(ConfigError):
    """A key file is missing, unreadable, not the expected kind of key, or already exists."""


class OutboxFullError(StoreError):
    """The outbox holds its configured maximum of entries; the caller rolls back and retries
    later (the release is not lost: nothing was queued or marked released)."""


class MqttError(EdgeError):
    """The MQTT broker could not be reached or refused us (connect, subscribe, publish)."""


class PublishRefusedError(MqttError):
    """The broker answered a publish with a failure reason code (>= 0x80, e.g. 0x87)."""


class RequestTimeoutError(MqttError):
    """No reply to a grid operator request arrived in time."""

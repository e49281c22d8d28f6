"""Typed errors: one class per query error code the caller can act on, each
carrying the protocol's `code` (a `query_pb2.ErrorCode` value) and message."""


class StitchError(Exception):
    """A request the server answered with an error, or a protocol failure."""

    def __init__(self, message, code=0):
        super().__init__(message)
        #: `query_pb2.ErrorCode` value (0 when the failure is not the server's answer).
        self.code = code


class Unauthenticated(StitchError):
    """No hello yet, or a token the server does not know (code 1)."""


class PermissionDenied(StitchError):
    """The token may not read that site, or the request needs an admin token (code 2)."""


class InvalidArgument(StitchError):
    """The request is malformed, e.g. an identifier that fails normalization (code 3)."""


class NotFound(StitchError):
    """No such identifier or person (code 4)."""


class ResponseTooLarge(StitchError):
    """The answer would exceed the server's response limit: narrow the request (code 7)."""


class Unavailable(StitchError):
    """The server is shutting down or overloaded: retry later (code 9)."""


class ConnectionLost(StitchError):
    """The connection closed before the answer arrived."""


class BatchRefused(StitchError):
    """The collector refused a whole batch (an ERROR frame): `code` is a `beacon_pb2.FrameErrorCode`."""


_BY_CODE = {1: Unauthenticated, 2: PermissionDenied, 3: InvalidArgument, 4: NotFound, 7: ResponseTooLarge,
            9: Unavailable}


def from_response(error):
    """The exception for a `query_pb2.Error`."""
    return _BY_CODE.get(error.code, StitchError)(error.message or "error %d" % error.code, error.code)

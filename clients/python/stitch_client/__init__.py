"""Client for Stitch: the query protocol (lookups, histories, the change feed,
leases, explain) and a beacon sender over TCP with acks.

Everything here is built from the wire contract alone (`proto/FRAMING.md`,
`proto/*.proto`): frames with a 28-byte header, protobuf payloads.
"""
from .errors import (
    BatchRefused,
    ConnectionLost,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResponseTooLarge,
    StitchError,
    Unauthenticated,
    Unavailable,
)
from .framing import tls_context
from .query import QueryClient, channel_name, source_label
from .sender import BeaconSender, SendResult
from .proto import beacon_pb2, query_pb2

__all__ = [
    "QueryClient", "BeaconSender", "SendResult", "channel_name", "source_label", "tls_context",
    "StitchError", "Unauthenticated", "PermissionDenied", "InvalidArgument", "NotFound",
    "ResponseTooLarge", "Unavailable", "ConnectionLost", "BatchRefused",
    "beacon_pb2", "query_pb2",
]

"""OPC UA client driver (asyncua underneath).

Public surface: :class:`OpcUaDriver`, the specs (:class:`OpcUaServer`, :class:`OpcUaTag`,
:class:`SecurityPolicy`, :class:`SecurityMode`, :class:`DeadbandKind`, :class:`TagMode`, identities
:class:`Anonymous`, :class:`UserPassword`, :class:`X509Identity`) and :class:`BrowseEntry`.
"""

from drivers.opcua._browse import BrowseEntry
from drivers.opcua._driver import OpcUaDriver
from drivers.opcua._security import thumbprint
from drivers.opcua._spec import (
    Anonymous,
    DeadbandKind,
    Identity,
    OpcUaServer,
    OpcUaTag,
    SecurityMode,
    SecurityPolicy,
    TagMode,
    UserPassword,
    X509Identity,
    validate_server,
)
from drivers.opcua._values import quality_of

__all__ = [
    "Anonymous",
    "BrowseEntry",
    "DeadbandKind",
    "Identity",
    "OpcUaDriver",
    "OpcUaServer",
    "OpcUaTag",
    "SecurityMode",
    "SecurityPolicy",
    "TagMode",
    "UserPassword",
    "X509Identity",
    "quality_of",
    "thumbprint",
    "validate_server",
]

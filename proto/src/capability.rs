//! Capabilities advertisement (RFC 5492) and the capabilities Starling knows.

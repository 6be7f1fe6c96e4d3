//! Message framing (RFC 4271 §4.1): marker, length, type; RFC 8654 extended length.

//! Path attributes (RFC 4271 §5 and extensions).

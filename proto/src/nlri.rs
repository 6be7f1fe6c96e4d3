//! NLRI prefixes with optional ADD-PATH identifiers (RFC 4271 §4.3, RFC 7911 §3).

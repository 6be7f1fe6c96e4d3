//! OPEN (RFC 4271 §4.2) with optional parameters, including the RFC 9072 extended form.

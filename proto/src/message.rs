//! The five BGP message types (RFC 4271 §4, RFC 2918) and their decode/encode dispatch.

//! ROUTE-REFRESH (RFC 2918) and enhanced route refresh subtypes (RFC 7313).

//! Interop lab: network namespaces and real BGP peers (BIRD, GoBGP, FRR) for tests.

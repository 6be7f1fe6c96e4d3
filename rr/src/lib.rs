//! Starling RIB (placeholder until the RIB issue): Adj-RIB-In, Loc-RIB, decision process, reflection, update groups. No I/O.

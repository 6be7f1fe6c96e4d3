//! Helpers shared by the benchmarks (and, through `#[path]`, the MRT golden test).

pub mod mrt;

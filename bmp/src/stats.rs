//! The statistics of a Statistics Report (RFC 7854 §4.8): 32-bit counters since the session
//! came up, and 64-bit gauges of table sizes (for the Loc-RIB peer, RFC 9069 §5.5, types 8
//! and 10).
//!
//! ```text
//!  Stats Count (4), then per statistic: Stat Type (2) | Stat Length (2) | Stat Data
//! ```

use bytes::{BufMut, BytesMut};
use proto::{Afi, AfiSafi, Safi};

use crate::error::DecodeError;
use crate::reader::Reader;

/// One statistic (RFC 7854 §4.8, the type in parentheses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// (0) Prefixes rejected by import policy.
    RejectedPrefixes(u32),
    /// (1) Prefixes announced again with the same attributes.
    DuplicatePrefixes(u32),
    /// (2) Withdrawals of prefixes already withdrawn.
    DuplicateWithdraws(u32),
    /// (3) UPDATEs invalidated by a CLUSTER_LIST loop (RFC 4456 §8).
    ClusterListLoops(u32),
    /// (4) UPDATEs invalidated by an AS_PATH loop.
    AsPathLoops(u32),
    /// (5) UPDATEs invalidated by an ORIGINATOR_ID loop (RFC 4456 §8).
    OriginatorIdLoops(u32),
    /// (6) UPDATEs invalidated by an AS_CONFED loop.
    AsConfedLoops(u32),
    /// (7) Routes in the Adj-RIB-In.
    AdjRibInRoutes(u64),
    /// (8) Routes in the Loc-RIB.
    LocRibRoutes(u64),
    /// (9) Routes of one family in the Adj-RIB-In.
    AdjRibInRoutesOf(AfiSafi, u64),
    /// (10) Routes of one family in the Loc-RIB.
    LocRibRoutesOf(AfiSafi, u64),
    /// (11) UPDATEs handled as withdrawals (RFC 7606).
    TreatAsWithdrawUpdates(u32),
    /// (12) Prefixes handled as withdrawn (RFC 7606).
    TreatAsWithdrawPrefixes(u32),
    /// (13) UPDATEs equal to the previous one.
    DuplicateUpdates(u32),
}

/// The data of a statistic: a 32-bit counter, a 64-bit gauge, or a family and a gauge.
enum Value {
    Counter(u32),
    Gauge(u64),
    FamilyGauge(AfiSafi, u64),
}

impl Stat {
    fn wire(self) -> (u16, Value) {
        use Value::{Counter, FamilyGauge, Gauge};
        match self {
            Stat::RejectedPrefixes(n) => (0, Counter(n)),
            Stat::DuplicatePrefixes(n) => (1, Counter(n)),
            Stat::DuplicateWithdraws(n) => (2, Counter(n)),
            Stat::ClusterListLoops(n) => (3, Counter(n)),
            Stat::AsPathLoops(n) => (4, Counter(n)),
            Stat::OriginatorIdLoops(n) => (5, Counter(n)),
            Stat::AsConfedLoops(n) => (6, Counter(n)),
            Stat::AdjRibInRoutes(n) => (7, Gauge(n)),
            Stat::LocRibRoutes(n) => (8, Gauge(n)),
            Stat::AdjRibInRoutesOf(family, n) => (9, FamilyGauge(family, n)),
            Stat::LocRibRoutesOf(family, n) => (10, FamilyGauge(family, n)),
            Stat::TreatAsWithdrawUpdates(n) => (11, Counter(n)),
            Stat::TreatAsWithdrawPrefixes(n) => (12, Counter(n)),
            Stat::DuplicateUpdates(n) => (13, Counter(n)),
        }
    }

    pub(crate) fn put(self, out: &mut BytesMut) {
        let (kind, value) = self.wire();
        out.put_u16(kind);
        match value {
            Value::Counter(n) => {
                out.put_u16(4);
                out.put_u32(n);
            }
            Value::Gauge(n) => {
                out.put_u16(8);
                out.put_u64(n);
            }
            Value::FamilyGauge(family, n) => {
                out.put_u16(11); // AFI (2), SAFI (1), gauge (8)
                out.put_u16(family.afi().0);
                out.put_u8(family.safi().0);
                out.put_u64(n);
            }
        }
    }

    pub(crate) fn decode(reader: &mut Reader<'_>) -> Result<Stat, DecodeError> {
        let kind = reader.u16("stat type")?;
        let length = reader.u16("stat length")?;
        let mut data = Reader::new(reader.take(usize::from(length), "stat data")?);
        let expected = match kind {
            7 | 8 => 8,
            9 | 10 => 11,
            0..=13 => 4,
            other => {
                return Err(DecodeError::Unsupported {
                    what: "stat type",
                    value: u32::from(other),
                })
            }
        };
        if usize::from(length) != expected {
            return Err(DecodeError::FieldLength {
                what: "stat data",
                length: usize::from(length),
                expected,
            });
        }
        let stat = match kind {
            0 => Stat::RejectedPrefixes(data.u32("stat")?),
            1 => Stat::DuplicatePrefixes(data.u32("stat")?),
            2 => Stat::DuplicateWithdraws(data.u32("stat")?),
            3 => Stat::ClusterListLoops(data.u32("stat")?),
            4 => Stat::AsPathLoops(data.u32("stat")?),
            5 => Stat::OriginatorIdLoops(data.u32("stat")?),
            6 => Stat::AsConfedLoops(data.u32("stat")?),
            7 => Stat::AdjRibInRoutes(data.u64("stat")?),
            8 => Stat::LocRibRoutes(data.u64("stat")?),
            9 | 10 => {
                let afi = Afi(data.u16("stat AFI")?);
                let safi = Safi(data.u8("stat SAFI")?);
                let family = AfiSafi::from_wire(afi, safi).ok_or(DecodeError::Unsupported {
                    what: "stat address family",
                    value: (u32::from(afi.0) << 8) | u32::from(safi.0),
                })?;
                let routes = data.u64("stat")?;
                if kind == 9 {
                    Stat::AdjRibInRoutesOf(family, routes)
                } else {
                    Stat::LocRibRoutesOf(family, routes)
                }
            }
            11 => Stat::TreatAsWithdrawUpdates(data.u32("stat")?),
            12 => Stat::TreatAsWithdrawPrefixes(data.u32("stat")?),
            _ => Stat::DuplicateUpdates(data.u32("stat")?),
        };
        data.finish()?;
        Ok(stat)
    }
}

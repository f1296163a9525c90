//! Schema versions of the files whose content is recomputed. A bundle is verified by the
//! rules of the version it was written with, so a check added later never makes a bundle
//! signed before it fail (CHANGELOG.md lists what each version added).

use std::fmt;

/// summary.json's `schema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SummaryVersion {
    /// The first wave's summary: nine checks and the five pins.
    V1,
    /// Adds the `step_log` check (steps.csv cross-checked against run.json).
    V2,
    /// Paired time test on the plan's interleaved pairs (order drawn per pair), the
    /// minimum detectable effect, the comparison kind in the verdict, stored times from
    /// another machine refused, and the signed journal (plan and run seals).
    V3,
    /// Command submissions: `clock` (whose clock and loss the figures are), the
    /// `command_log` check, and `not_run` for the checks a command's run cannot support.
    V4,
}

impl SummaryVersion {
    pub const ALL: [SummaryVersion; 4] = [
        SummaryVersion::V1,
        SummaryVersion::V2,
        SummaryVersion::V3,
        SummaryVersion::V4,
    ];

    /// What this speedcert writes.
    pub const CURRENT: SummaryVersion = SummaryVersion::V4;

    pub fn schema(self) -> &'static str {
        match self {
            SummaryVersion::V1 => "speedcert/summary/v1",
            SummaryVersion::V2 => "speedcert/summary/v2",
            SummaryVersion::V3 => "speedcert/summary/v3",
            SummaryVersion::V4 => "speedcert/summary/v4",
        }
    }

    /// The version a `schema` string names; `None` for one this build does not know
    /// (written by a newer speedcert).
    pub fn parse(schema: &str) -> Option<Self> {
        SummaryVersion::ALL
            .into_iter()
            .find(|v| v.schema() == schema)
    }
}

impl fmt::Display for SummaryVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.schema())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_parse_back() {
        for v in SummaryVersion::ALL {
            assert_eq!(SummaryVersion::parse(v.schema()), Some(v));
        }
        assert_eq!(SummaryVersion::parse("speedcert/summary/v9"), None);
        assert!(SummaryVersion::V1 < SummaryVersion::CURRENT);
    }
}

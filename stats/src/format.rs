//! How speedcert prints its numbers: the certify report, the records site and the audit
//! all format p-values, times and losses through these functions, so one figure reads
//! the same wherever it appears.

/// A p-value as people write them: 4 decimals, or 4 significant digits in scientific
/// notation below 1e-4 (`0.0046`, `2.143e-6`); exactly zero prints as `0`.
pub fn fmt_p(p: f64) -> String {
    if p == 0.0 {
        "0".into()
    } else if p.abs() < 1e-4 {
        format!("{p:.3e}")
    } else {
        format!("{p:.4}")
    }
}

/// A loss with 4 decimals: the speedrun states targets to the hundredth, and runs differ
/// in the third decimal.
pub fn fmt_loss(l: f64) -> String {
    format!("{l:.4}")
}

/// A time unit chosen once per table from the largest value it shows, so a column reads
/// down in one unit (hyperfine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Ms,
    S,
    Min,
    H,
}

impl TimeUnit {
    /// The unit that shows `max_ms` with a short integer part.
    pub fn for_ms(max_ms: f64) -> Self {
        let a = max_ms.abs();
        if a < 1_000.0 {
            Self::Ms
        } else if a < 120_000.0 {
            Self::S
        } else if a < 7_200_000.0 {
            Self::Min
        } else {
            Self::H
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Self::Ms => "ms",
            Self::S => "s",
            Self::Min => "min",
            Self::H => "h",
        }
    }

    pub fn divisor(self) -> f64 {
        match self {
            Self::Ms => 1.0,
            Self::S => 1_000.0,
            Self::Min => 60_000.0,
            Self::H => 3_600_000.0,
        }
    }

    /// `ms` in this unit with a precision suited to it ("58.102 s", "2.997 min").
    pub fn fmt(self, ms: f64) -> String {
        let v = ms / self.divisor();
        match self {
            Self::Ms => format!("{v:.1} ms"),
            Self::S => format!("{v:.3} s"),
            Self::Min => format!("{v:.3} min"),
            Self::H => format!("{v:.2} h"),
        }
    }
}

/// A time in milliseconds, in the unit that suits it alone.
pub fn fmt_ms(ms: f64) -> String {
    TimeUnit::for_ms(ms).fmt(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values() {
        assert_eq!(fmt_p(0.0), "0");
        assert_eq!(fmt_p(0.25), "0.2500");
        assert_eq!(fmt_p(0.004615), "0.0046");
        assert_eq!(fmt_p(2.1434e-6), "2.143e-6");
        assert_eq!(fmt_p(1e-4), "0.0001");
    }

    #[test]
    fn times_pick_their_unit() {
        assert_eq!(fmt_ms(291.5), "291.5 ms");
        assert_eq!(fmt_ms(58_102.0), "58.102 s");
        assert_eq!(fmt_ms(179_820.0), "2.997 min");
        assert_eq!(fmt_ms(9_000_000.0), "2.50 h");
        assert_eq!(TimeUnit::for_ms(500.0).suffix(), "ms");
        assert_eq!(fmt_loss(3.27951), "3.2795");
    }
}

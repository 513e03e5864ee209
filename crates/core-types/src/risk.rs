//! Ordered risk levels.

use std::fmt;

/// A risk level: a fund's risk class, or the highest class a customer tolerates.
///
/// Levels are ordered small integers (PTOFA uses R1–R5, MiFID questionnaires similar scales).
/// A customer with tolerance `t` may hold a fund of level `r` iff `r <= t`
/// ([`RiskLevel::permits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct RiskLevel(u8);

impl RiskLevel {
    /// The lowest level (0).
    pub const MIN: RiskLevel = RiskLevel(0);
    /// The highest level (255).
    pub const MAX: RiskLevel = RiskLevel(u8::MAX);

    /// A risk level from its number.
    pub const fn new(level: u8) -> Self {
        Self(level)
    }

    /// The level as a number.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Whether a customer whose tolerance is `self` may hold a fund of level `fund_level`.
    pub const fn permits(self, fund_level: RiskLevel) -> bool {
        fund_level.0 <= self.0
    }
}

impl From<u8> for RiskLevel {
    fn from(level: u8) -> Self {
        Self(level)
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_permits_equal_and_lower_levels_only() {
        let t = RiskLevel::new(3);
        assert!(t.permits(RiskLevel::new(1)));
        assert!(t.permits(RiskLevel::new(3)));
        assert!(!t.permits(RiskLevel::new(4)));
        assert!(RiskLevel::new(2) < RiskLevel::new(5));
        assert_eq!(RiskLevel::new(4).to_string(), "R4");
    }
}

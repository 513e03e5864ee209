//! Customers and funds.

use crate::{CoreError, CustomerId, FundId, Result, RiskLevel};

/// A customer of the allocation problem: an id and the highest risk level it tolerates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Customer {
    /// The customer's id.
    pub id: CustomerId,
    /// The highest fund risk level the customer may be offered.
    pub risk_tolerance: RiskLevel,
}

impl Customer {
    /// A customer from its id and risk tolerance.
    pub fn new(id: impl Into<CustomerId>, risk_tolerance: RiskLevel) -> Self {
        Self {
            id: id.into(),
            risk_tolerance,
        }
    }

    /// Whether this customer may be offered `fund`.
    pub fn may_hold(&self, fund: &Fund) -> bool {
        self.risk_tolerance.permits(fund.risk_level)
    }
}

/// A fund of the allocation problem: an id, its risk level and its exposure demand `d_f`
/// (how many customers it must be shown to).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Fund {
    /// The fund's id.
    pub id: FundId,
    /// The fund's risk level.
    pub risk_level: RiskLevel,
    /// The number of exposures (customers) the fund must receive, `d_f`.
    pub exposure: u64,
}

impl Fund {
    /// A fund from its id, risk level and exposure demand.
    pub fn new(id: impl Into<FundId>, risk_level: RiskLevel, exposure: u64) -> Self {
        Self {
            id: id.into(),
            risk_level,
            exposure,
        }
    }
}

/// Checks that no two customers share an id.
pub fn check_unique_customer_ids(customers: &[Customer]) -> Result<()> {
    check_unique(customers.iter().map(|c| c.id.as_str()), "customer")
}

/// Checks that no two funds share an id.
pub fn check_unique_fund_ids(funds: &[Fund]) -> Result<()> {
    check_unique(funds.iter().map(|f| f.id.as_str()), "fund")
}

fn check_unique<'a>(ids: impl Iterator<Item = &'a str>, what: &'static str) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(CoreError::DuplicateId {
                what,
                id: id.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_eligibility_and_duplicate_ids() {
        let c = Customer::new("c1", RiskLevel::new(2));
        assert!(c.may_hold(&Fund::new("f1", RiskLevel::new(2), 10)));
        assert!(!c.may_hold(&Fund::new("f2", RiskLevel::new(3), 10)));
        let dup = [c.clone(), Customer::new("c1", RiskLevel::new(1))];
        assert_eq!(
            check_unique_customer_ids(&dup),
            Err(CoreError::DuplicateId {
                what: "customer",
                id: "c1".into()
            })
        );
        assert!(check_unique_fund_ids(&[Fund::new("a", RiskLevel::MIN, 1)]).is_ok());
    }
}

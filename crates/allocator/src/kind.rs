//! Which solver produced a report: [`SolverKind`], the typed identity shared by the library,
//! the facade's reports and the command line.

use std::fmt;
use std::str::FromStr;

/// The allocation methods of this crate, one per [`Solver`](crate::Solver) implementation
/// (the LP solver counts twice: relaxation and integer program).
///
/// Written (`Display`) and parsed (`FromStr`, and `clap::ValueEnum` with the `clap` feature) as
/// the lower-case names of [`SolverKind::name`]; `"greedy"` is also accepted for
/// [`SolverKind::GreedyTopK`].
///
/// ```
/// use fundalloc_allocator::SolverKind;
/// let kind: SolverKind = "ha".parse()?;
/// assert_eq!(kind, SolverKind::Heuristic);
/// assert_eq!(SolverKind::GreedyTopK.to_string(), "greedy-top-k");
/// assert!("simplex".parse::<SolverKind>().is_err());
/// # Ok::<(), fundalloc_allocator::ParseSolverKindError>(())
/// ```
///
/// Not `#[non_exhaustive]` on purpose: a program that maps each kind to a solver (the
/// command line does) should fail to compile, not fall back silently, when a solver is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SolverKind {
    /// [`Exact`](crate::Exact): the proven optimum with a dual certificate (`"exact"`).
    Exact,
    /// [`Heuristic`](crate::Heuristic): HA, PTOFA Algorithm 1 (`"ha"`).
    Heuristic,
    /// [`Manual`](crate::Manual): funds in priority order (`"manual"`).
    Manual,
    /// [`GreedyTopK`](crate::GreedyTopK): each customer's top-K, exposures ignored
    /// (`"greedy-top-k"`, also `"greedy"`).
    GreedyTopK,
    /// [`Lp`](crate::Lp) in [`LpMode::Relaxation`](crate::LpMode::Relaxation) (`"lp"`).
    Lp,
    /// [`Lp`](crate::Lp) in [`LpMode::Mip`](crate::LpMode::Mip) (`"mip"`).
    Mip,
}

impl SolverKind {
    /// Every kind, in the order of the documentation.
    pub const ALL: [SolverKind; 6] = [
        SolverKind::Exact,
        SolverKind::Heuristic,
        SolverKind::Manual,
        SolverKind::GreedyTopK,
        SolverKind::Lp,
        SolverKind::Mip,
    ];

    /// The name written in reports and accepted by `FromStr`.
    pub const fn name(self) -> &'static str {
        match self {
            SolverKind::Exact => "exact",
            SolverKind::Heuristic => "ha",
            SolverKind::Manual => "manual",
            SolverKind::GreedyTopK => "greedy-top-k",
            SolverKind::Lp => "lp",
            SolverKind::Mip => "mip",
        }
    }

    /// Other names `FromStr` accepts for this kind.
    const fn aliases(self) -> &'static [&'static str] {
        match self {
            SolverKind::GreedyTopK => &["greedy"],
            _ => &[],
        }
    }

    /// Whether this kind's allocation is a proven optimum (it implements
    /// [`ProvesOptimality`](crate::ProvesOptimality)).
    pub const fn proves_optimality(self) -> bool {
        matches!(self, SolverKind::Exact | SolverKind::Lp | SolverKind::Mip)
    }
}

impl fmt::Display for SolverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so width and alignment (`{:<14}`) apply in tables.
        f.pad(self.name())
    }
}

/// A name that is no [`SolverKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown solver `{name}` (expected one of: exact, ha, manual, greedy-top-k, lp, mip)")]
#[non_exhaustive]
pub struct ParseSolverKindError {
    /// The name that was given.
    pub name: String,
}

impl FromStr for SolverKind {
    type Err = ParseSolverKindError;

    /// Parses a name or alias, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SolverKind::ALL
            .into_iter()
            .find(|k| {
                k.name().eq_ignore_ascii_case(s)
                    || k.aliases().iter().any(|a| a.eq_ignore_ascii_case(s))
            })
            .ok_or_else(|| ParseSolverKindError {
                name: s.to_string(),
            })
    }
}

#[cfg(feature = "clap")]
impl clap::ValueEnum for SolverKind {
    fn value_variants<'a>() -> &'a [Self] {
        &SolverKind::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).aliases(self.aliases().iter().copied()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_typed_errors() {
        for kind in SolverKind::ALL {
            assert_eq!(kind.to_string().parse::<SolverKind>(), Ok(kind));
        }
        assert_eq!("greedy".parse(), Ok(SolverKind::GreedyTopK));
        assert_eq!("HA".parse(), Ok(SolverKind::Heuristic));
        let err = "lp-microlp".parse::<SolverKind>().unwrap_err();
        assert_eq!(err.name, "lp-microlp");
        assert!(err.to_string().contains("greedy-top-k"));
        assert_eq!(format!("{:<6}|", SolverKind::Lp), "lp    |");
    }

    #[cfg(feature = "clap")]
    #[test]
    fn value_enum_accepts_the_same_names() {
        use clap::ValueEnum;
        for kind in SolverKind::ALL {
            assert_eq!(
                <SolverKind as ValueEnum>::from_str(kind.name(), false),
                Ok(kind)
            );
        }
        assert_eq!(
            <SolverKind as ValueEnum>::from_str("greedy", false),
            Ok(SolverKind::GreedyTopK)
        );
    }
}

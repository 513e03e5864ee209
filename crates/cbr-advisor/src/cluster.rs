//! Behavioural investment universes: cluster the customers (k-medoids under the Eq. 5
//! distance), take a representative of each cluster as the target of a query.

use fundalloc_core_types::{CancelToken, InvalidParameter, ParamGuard, TooLarge, check};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use crate::casebase::{CaseBase, MISSING, Target};
use crate::retrieval::{QueryValidParams, Recommendation};
use crate::{CbrError, Result};

/// The most cells of the sample's distance matrix (`sample²`): 2²⁵ (256 MiB of `f64`, a
/// sample of 5,792 cases). A larger sample fails with [`CbrError::TooLarge`] before any
/// allocation.
pub const MAX_SAMPLE_CELLS: usize = 1 << 25;

/// Unchecked parameters of [`KMedoids::fit`].
///
/// ```
/// use fundalloc_cbr_advisor::KMedoidsParams;
/// use fundalloc_core_types::ParamGuard;
///
/// let p = KMedoidsParams::new(4, 7).sample(500).check()?;
/// assert_eq!((p.k(), p.sample(), p.max_iter()), (4, 500, 30));
/// assert!(KMedoidsParams::new(0, 7).check().is_err());
/// # Ok::<(), fundalloc_cbr_advisor::CbrError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct KMedoidsParams(KMedoidsValidParams);

/// Checked parameters of [`KMedoids::fit`]: made by [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMedoidsValidParams {
    k: usize,
    seed: u64,
    max_iter: usize,
    sample: usize,
}

impl KMedoidsParams {
    /// `k` clusters with the given seed and defaults otherwise.
    pub fn new(k: usize, seed: u64) -> Self {
        Self(KMedoidsValidParams {
            k,
            seed,
            max_iter: 30,
            sample: 2000,
        })
    }
    /// Sets the number of clusters (≥ 1).
    #[must_use]
    pub fn k(mut self, k: usize) -> Self {
        self.0.k = k;
        self
    }
    /// Sets the seed of the sampling and of the k-medoids++ initialisation.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
    /// Sets the maximum number of assignment/update rounds (default 30).
    #[must_use]
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.0.max_iter = max_iter;
        self
    }
    /// Sets the number of cases clustered (≥ 1; a seeded sample when the case base is
    /// larger; default 2,000): the algorithm needs the sample's full distance matrix, so
    /// `sample²` may not exceed [`MAX_SAMPLE_CELLS`].
    #[must_use]
    pub fn sample(mut self, sample: usize) -> Self {
        self.0.sample = sample;
        self
    }
}

impl KMedoidsValidParams {
    /// The number of clusters.
    pub fn k(&self) -> usize {
        self.k
    }
    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The maximum number of rounds.
    pub fn max_iter(&self) -> usize {
        self.max_iter
    }
    /// The number of cases clustered at most.
    pub fn sample(&self) -> usize {
        self.sample
    }
}

impl ParamGuard for KMedoidsParams {
    type Checked = KMedoidsValidParams;
    type Error = CbrError;

    fn check_ref(&self) -> Result<&KMedoidsValidParams> {
        let p = &self.0;
        check::at_least("k", p.k, 1)?;
        check::at_least("sample", p.sample, 1)?;
        TooLarge::check(
            "k-medoids sample distance matrix cells",
            (p.sample as u128).saturating_mul(p.sample as u128),
            MAX_SAMPLE_CELLS as u128,
        )?;
        Ok(p)
    }

    fn check(self) -> Result<KMedoidsValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(KMedoidsValidParams, CbrError);

/// Customers clustered by k-medoids under the Eq. 5 distance (fitted by [`KMedoids::fit`]):
/// the behavioural groups whose representatives are queried as investment universes.
#[derive(Debug, Clone, PartialEq)]
pub struct KMedoids {
    medoids: Vec<u32>,
    members: Vec<u32>,
    labels: Vec<usize>,
    cost: f64,
}

impl KMedoids {
    /// The medoids' case indices, one per cluster.
    pub fn medoids(&self) -> &[u32] {
        &self.medoids
    }
    /// The clustered cases (the sample), in increasing case order.
    pub fn members(&self) -> &[u32] {
        &self.members
    }
    /// `labels()[i]` is the cluster of `members()[i]`.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }
    /// Σ over members of the distance to their medoid.
    pub fn cost(&self) -> f64 {
        self.cost
    }

    /// The cases of cluster `c`.
    pub fn cluster(&self, c: usize) -> Vec<u32> {
        self.members
            .iter()
            .zip(&self.labels)
            .filter(|(_, l)| **l == c)
            .map(|(m, _)| *m)
            .collect()
    }

    /// Seeded k-medoids (k-medoids++ initialisation, then alternating assignment and medoid
    /// update until stable) under the global distance of Eq. 5.
    ///
    /// # Errors
    /// [`CbrError::InvalidParameter`] / [`CbrError::TooLarge`] for bad parameters,
    /// [`CbrError::TooFewCases`] when `k` exceeds the cases clustered, and
    /// [`CbrError::Cancelled`] once `cancel` stops (checked per matrix row and per round).
    pub fn fit(
        cb: &CaseBase,
        params: impl ParamGuard<Checked = KMedoidsValidParams, Error = CbrError>,
        cancel: &CancelToken,
    ) -> Result<Self> {
        let params = params.check()?;
        k_medoids(cb, &params, cancel)
    }

    /// A cluster representative (the paper's "average" customer of a cluster): linear
    /// features are the mean of the members' known values, nominal features the most frequent
    /// known category (ties: smallest code), portfolios those of the medoid. It is an external
    /// target: the medoid itself may be retrieved.
    ///
    /// # Errors
    /// [`CbrError::InvalidParameter`] when `cluster` is not a cluster of this clustering.
    pub fn representative(&self, cb: &CaseBase, cluster: usize) -> Result<Target> {
        let Some(&medoid) = self.medoids.get(cluster) else {
            return Err(InvalidParameter::new(
                "cluster",
                cluster,
                "is not a cluster of this clustering",
            )
            .into());
        };
        if medoid as usize >= cb.len() {
            return Err(InvalidParameter::new(
                "case base",
                cb.len(),
                "is not the case base this clustering was fitted on",
            )
            .into());
        }
        let members = self.cluster(cluster);
        let mut t = cb.target_of_case(medoid);
        t.case = None;
        t.id = format!("cluster-{cluster}").into();
        for (k, col) in cb.lin.iter().enumerate() {
            let known: Vec<f64> = members
                .iter()
                .filter_map(|&i| col.get(i as usize).copied())
                .filter(|x| !x.is_nan())
                .collect();
            t.lin[k] = if known.is_empty() {
                f64::NAN
            } else {
                known.iter().sum::<f64>() / known.len() as f64
            };
        }
        for (k, col) in cb.nom.iter().enumerate() {
            let mut counts = std::collections::BTreeMap::new();
            for &i in &members {
                let c = col.get(i as usize).copied().unwrap_or(MISSING);
                if c != MISSING {
                    *counts.entry(c).or_insert(0usize) += 1;
                }
            }
            t.nom[k] = counts
                .iter()
                .fold((MISSING, 0), |a, (&c, &n)| if n > a.1 { (c, n) } else { a })
                .0;
        }
        Ok(t)
    }

    /// The behavioural investment universe of every cluster: a query (Steps 1–3) with each
    /// cluster's [`representative`](KMedoids::representative) as the target.
    ///
    /// # Errors
    /// As [`CaseBase::recommend`] (the token covers all the queries together).
    pub fn behavioural_universes(
        &self,
        cb: &CaseBase,
        params: impl ParamGuard<Checked = QueryValidParams, Error = CbrError>,
        cancel: &CancelToken,
    ) -> Result<Vec<Recommendation>> {
        let params = params.check()?;
        (0..self.medoids.len())
            .map(|c| cb.recommend(&self.representative(cb, c)?, params.clone(), cancel))
            .collect()
    }
}

/// The algorithm of [`KMedoids::fit`] on checked parameters.
fn k_medoids(
    cb: &CaseBase,
    params: &KMedoidsValidParams,
    cancel: &CancelToken,
) -> Result<KMedoids> {
    cancel.check()?;
    let mut rng = StdRng::seed_from_u64(params.seed);
    let mut members: Vec<u32> = (0..cb.len() as u32).collect();
    if members.len() > params.sample {
        // Partial Fisher–Yates: a uniform sample of `sample` cases.
        for i in 0..params.sample {
            let j = rng.random_range(i..members.len());
            members.swap(i, j);
        }
        members.truncate(params.sample);
        members.sort_unstable();
    }
    let m = members.len();
    if params.k > m {
        return Err(CbrError::TooFewCases {
            k: params.k,
            cases: m,
        });
    }
    // m ≤ sample and sample² ≤ MAX_SAMPLE_CELLS (checked with the parameters).
    let rows: Vec<Vec<f64>> = (0..m)
        .into_par_iter()
        .map(|a| {
            cancel.check()?;
            let t = cb.target_of_case(members[a]);
            Ok(members
                .iter()
                .map(|&b| cb.target_distance(&t, b).unwrap_or(1.0))
                .collect())
        })
        .collect::<Result<_>>()?;
    let dist: Vec<f64> = rows.into_iter().flatten().collect();
    let d = |a: usize, b: usize| dist[a * m + b];
    // k-medoids++ initialisation.
    let mut medoids = vec![rng.random_range(0..m)];
    let mut near: Vec<f64> = (0..m).map(|x| d(x, medoids[0])).collect();
    while medoids.len() < params.k {
        cancel.check()?;
        let total: f64 = near.iter().sum();
        let next = if total > 0.0 {
            let mut r = rng.random::<f64>() * total;
            let mut pick = m - 1;
            for (x, w) in near.iter().enumerate() {
                if r < *w {
                    pick = x;
                    break;
                }
                r -= w;
            }
            pick
        } else {
            (0..m).find(|x| !medoids.contains(x)).unwrap_or(0)
        };
        if medoids.contains(&next) {
            // Only possible when every remaining point is at distance 0 from a medoid.
            let Some(x) = (0..m).find(|x| !medoids.contains(x)) else {
                break;
            };
            medoids.push(x);
        } else {
            medoids.push(next);
        }
        let last = medoids[medoids.len() - 1];
        for (x, n) in near.iter_mut().enumerate() {
            *n = n.min(d(x, last));
        }
    }
    let assign = |medoids: &[usize]| -> (Vec<usize>, f64) {
        let mut cost = 0.0;
        let labels = (0..m)
            .map(|x| {
                let (c, dx) = medoids
                    .iter()
                    .enumerate()
                    .map(|(c, &md)| (c, d(x, md)))
                    .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
                cost += dx;
                c
            })
            .collect();
        (labels, cost)
    };
    let (mut labels, mut cost) = assign(&medoids);
    for _ in 0..params.max_iter {
        let mut changed = false;
        for (c, md) in medoids.iter_mut().enumerate() {
            cancel.check()?;
            let cl: Vec<usize> = (0..m).filter(|&x| labels[x] == c).collect();
            let best = cl
                .iter()
                .map(|&x| (x, cl.iter().map(|&y| d(x, y)).sum::<f64>()))
                .fold((*md, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
            if best.0 != *md {
                *md = best.0;
                changed = true;
            }
        }
        let (l, c) = assign(&medoids);
        labels = l;
        cost = c;
        if !changed {
            break;
        }
    }
    Ok(KMedoids {
        medoids: medoids.iter().map(|&x| members[x]).collect(),
        members,
        labels,
        cost,
    })
}

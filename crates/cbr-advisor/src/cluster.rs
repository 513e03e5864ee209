//! Behavioural investment universes: cluster the customers (k-medoids under the Eq. 5
//! distance), take a representative of each cluster as the target of a query.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use crate::casebase::{CaseBase, MISSING, Target};
use crate::retrieval::{QueryParams, Recommendation};
use crate::{CbrError, Result};

/// Parameters of [`k_medoids`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMedoidsParams {
    /// Number of clusters.
    pub k: usize,
    /// Seed of the sampling and of the k-medoids++ initialisation.
    pub seed: u64,
    /// Maximum number of assignment/update rounds (default 30).
    pub max_iter: usize,
    /// Number of cases clustered (a seeded sample when the case base is larger; default
    /// 2,000): the algorithm needs the sample's full distance matrix.
    pub sample: usize,
}

impl KMedoidsParams {
    /// `k` clusters with the given seed and defaults otherwise.
    pub fn new(k: usize, seed: u64) -> Self {
        Self {
            k,
            seed,
            max_iter: 30,
            sample: 2000,
        }
    }
}

/// The result of [`k_medoids`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// The medoids' case indices, one per cluster.
    pub medoids: Vec<u32>,
    /// The clustered cases (the sample), in increasing case order.
    pub members: Vec<u32>,
    /// `labels[i]` is the cluster of `members[i]`.
    pub labels: Vec<usize>,
    /// Σ over members of the distance to their medoid.
    pub cost: f64,
}

impl Clustering {
    /// The cases of cluster `c`.
    pub fn cluster(&self, c: usize) -> Vec<u32> {
        self.members
            .iter()
            .zip(&self.labels)
            .filter(|(_, l)| **l == c)
            .map(|(m, _)| *m)
            .collect()
    }
}

/// Seeded k-medoids (k-medoids++ initialisation, then alternating assignment and medoid
/// update until stable) under the global distance of Eq. 5.
pub fn k_medoids(cb: &CaseBase, params: &KMedoidsParams) -> Result<Clustering> {
    let bad = |reason: String| Err(CbrError::InvalidClustering { reason });
    if params.k == 0 || params.sample == 0 {
        return bad("k and sample must be at least 1".into());
    }
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
        return bad(format!("k = {} exceeds the {m} cases clustered", params.k));
    }
    let dist: Vec<f64> = (0..m)
        .into_par_iter()
        .flat_map_iter(|a| {
            let t = cb.target_of_case(members[a]);
            let members = &members;
            (0..m).map(move |b| cb.target_distance(&t, members[b]).unwrap_or(1.0))
        })
        .collect();
    let d = |a: usize, b: usize| dist[a * m + b];
    // k-medoids++ initialisation.
    let mut medoids = vec![rng.random_range(0..m)];
    let mut near: Vec<f64> = (0..m).map(|x| d(x, medoids[0])).collect();
    while medoids.len() < params.k {
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
    Ok(Clustering {
        medoids: medoids.iter().map(|&x| members[x]).collect(),
        members,
        labels,
        cost,
    })
}

/// A cluster representative (the paper's "average" customer of a cluster): linear features
/// are the mean of the members' known values, nominal features the most frequent known
/// category (ties: smallest code), portfolios those of the medoid. It is an external target:
/// the medoid itself may be retrieved.
pub fn representative(cb: &CaseBase, clustering: &Clustering, cluster: usize) -> Result<Target> {
    let Some(&medoid) = clustering.medoids.get(cluster) else {
        return Err(CbrError::InvalidClustering {
            reason: format!("no cluster {cluster}"),
        });
    };
    let members = clustering.cluster(cluster);
    let mut t = cb.target_of_case(medoid);
    t.case = None;
    t.id = format!("cluster-{cluster}").into();
    for (k, col) in cb.lin.iter().enumerate() {
        let known: Vec<f64> = members
            .iter()
            .map(|&i| col[i as usize])
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
            let c = col[i as usize];
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
/// cluster's [`representative`] as the target.
pub fn behavioural_universes(
    cb: &CaseBase,
    clustering: &Clustering,
    params: &QueryParams,
) -> Result<Vec<Recommendation>> {
    (0..clustering.medoids.len())
        .map(|c| cb.recommend(&representative(cb, clustering, c)?, params, None))
        .collect()
}

//! Step 1 of a query (Section 3.2 of the paper): the N stored customers nearest to the target
//! by the global distance of Eq. 5.
//!
//! Parallel over the column store in chunks of [`CHUNK`] cases; each worker keeps a bounded
//! max-heap of its `n` best (a partial selection, no full sort), and the heaps are merged. The
//! cancel token is checked before every chunk.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use fundalloc_core_types::{CancelToken, Cancelled};
use rayon::prelude::*;

use crate::Result;
use crate::casebase::{CaseBase, Kernel, KernelScratch, Target};
use crate::retrieval::Neighbour;

#[derive(Clone, Copy)]
struct Cand(f64, u32);
impl PartialEq for Cand {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
    }
}

/// Step-1 chunk length: long enough to amortise per-chunk work, short enough for load balance
/// and for a prompt stop (one chunk is well under a millisecond).
const CHUNK: usize = 4096;

struct Step1State {
    heap: BinaryHeap<Cand>,
    buf: Vec<f64>,
    scratch: KernelScratch,
}

fn push_bounded(heap: &mut BinaryHeap<Cand>, n: usize, c: Cand) {
    if heap.len() < n {
        heap.push(c);
    } else if heap.peek().is_some_and(|top| c < *top) {
        heap.pop();
        heap.push(c);
    }
}

impl CaseBase {
    /// Step 1: the `n` stored customers nearest to the target by Eq. 5, nearest first (ties by
    /// case index). Cases in `exclude` (e.g. the target itself) are skipped.
    ///
    /// # Errors
    /// [`CbrError::Cancelled`](crate::CbrError::Cancelled) once `cancel` is cancelled or past
    /// its deadline (checked before each chunk of 4,096 cases).
    pub fn nearest(
        &self,
        target: &Target,
        n: usize,
        exclude: &[u32],
        cancel: &CancelToken,
    ) -> Result<Vec<Neighbour>> {
        cancel.check()?;
        if n == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let kernel = Kernel::new(self, target);
        let stopped = AtomicBool::new(false);
        let why: Mutex<Option<Cancelled>> = Mutex::new(None);
        let chunks = self.len().div_ceil(CHUNK);
        let heap = (0..chunks)
            .into_par_iter()
            .fold(
                || Step1State {
                    // Grows on demand: a split never holds more than min(n, cases it saw).
                    heap: BinaryHeap::new(),
                    buf: vec![0.0; CHUNK],
                    scratch: KernelScratch::default(),
                },
                |mut st, c| {
                    if stopped.load(AtomicOrdering::Relaxed) {
                        return st;
                    }
                    if let Err(e) = cancel.check() {
                        stopped.store(true, AtomicOrdering::Relaxed);
                        if let Ok(mut w) = why.lock() {
                            *w = Some(e);
                        }
                        return st;
                    }
                    let start = c * CHUNK;
                    let len = CHUNK.min(self.len() - start);
                    let buf = &mut st.buf[..len];
                    kernel.distances(start, buf, &mut st.scratch);
                    for (k, &d) in buf.iter().enumerate() {
                        let i = (start + k) as u32;
                        let cand = Cand(d, i);
                        if (st.heap.len() < n || st.heap.peek().is_some_and(|t| cand < *t))
                            && !exclude.contains(&i)
                        {
                            push_bounded(&mut st.heap, n, cand);
                        }
                    }
                    st
                },
            )
            .map(|st| st.heap)
            .reduce(BinaryHeap::new, |mut a, b| {
                for c in b {
                    push_bounded(&mut a, n, c);
                }
                a
            });
        if stopped.load(AtomicOrdering::Relaxed) {
            let e = why
                .lock()
                .ok()
                .and_then(|w| *w)
                .unwrap_or(Cancelled::new(true));
            return Err(e.into());
        }
        Ok(heap
            .into_sorted_vec()
            .into_iter()
            .map(|Cand(d, i)| Neighbour {
                case: i,
                id: self.ids()[i as usize].clone(),
                distance: d,
            })
            .collect())
    }
}

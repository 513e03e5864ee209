//! A small Dinic max-flow on `u64` capacities, with lower bounds, for the *aggregated* problem.
//!
//! The allocation problem has a tiny quotient: customers with the same risk tolerance are
//! interchangeable as far as feasibility goes, so a network of (tolerance classes) × (funds)
//! — a few dozen nodes, whatever U is — decides feasibility exactly (see
//! [`crate::AllocationProblem`] and `docs/allocation.md`). This module is that network.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
struct Edge {
    to: usize,
    cap: u64,
}

/// A flow network with adjacency lists; edge `2i` and `2i + 1` are a pair (forward, backward).
#[derive(Debug, Clone)]
pub(crate) struct Network {
    edges: Vec<Edge>,
    adj: Vec<Vec<usize>>,
}

impl Network {
    pub(crate) fn new(nodes: usize) -> Self {
        Self {
            edges: Vec::new(),
            adj: vec![Vec::new(); nodes],
        }
    }

    /// Adds `from → to` with capacity `cap`; returns the edge id (for reading its flow).
    pub(crate) fn add_edge(&mut self, from: usize, to: usize, cap: u64) -> usize {
        let id = self.edges.len();
        self.edges.push(Edge { to, cap });
        self.edges.push(Edge { to: from, cap: 0 });
        self.adj[from].push(id);
        self.adj[to].push(id + 1);
        id
    }

    #[cfg(test)]
    /// Flow currently on edge `id` (the residual capacity of its reverse edge).
    pub(crate) fn flow(&self, id: usize) -> u64 {
        self.edges[id ^ 1].cap
    }

    /// Maximum flow from `s` to `t` (Dinic: BFS levels, DFS blocking flow).
    pub(crate) fn max_flow(&mut self, s: usize, t: usize) -> u64 {
        let n = self.adj.len();
        let mut total = 0u64;
        loop {
            let mut level = vec![usize::MAX; n];
            level[s] = 0;
            let mut queue = VecDeque::from([s]);
            while let Some(v) = queue.pop_front() {
                for &e in &self.adj[v] {
                    let edge = &self.edges[e];
                    if edge.cap > 0 && level[edge.to] == usize::MAX {
                        level[edge.to] = level[v] + 1;
                        queue.push_back(edge.to);
                    }
                }
            }
            if level[t] == usize::MAX {
                return total;
            }
            let mut next = vec![0usize; n];
            loop {
                let pushed = self.augment(s, t, u64::MAX, &level, &mut next);
                if pushed == 0 {
                    break;
                }
                total = total.saturating_add(pushed);
            }
        }
    }

    fn augment(
        &mut self,
        v: usize,
        t: usize,
        limit: u64,
        level: &[usize],
        next: &mut [usize],
    ) -> u64 {
        if v == t {
            return limit;
        }
        while next[v] < self.adj[v].len() {
            let e = self.adj[v][next[v]];
            let (to, cap) = (self.edges[e].to, self.edges[e].cap);
            if cap > 0 && level[to] == level[v] + 1 {
                let pushed = self.augment(to, t, limit.min(cap), level, next);
                if pushed > 0 {
                    self.edges[e].cap -= pushed;
                    self.edges[e ^ 1].cap += pushed;
                    return pushed;
                }
            }
            next[v] += 1;
        }
        0
    }
}

/// A set of interchangeable customers: `count` of them, each taking between `need_min` and
/// `need_max` distinct funds out of `eligible`.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) count: u64,
    pub(crate) need_min: u64,
    pub(crate) need_max: u64,
    pub(crate) eligible: Vec<usize>,
}

/// Outcome of [`transport_feasibility`]: feasible iff `achievable == required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Feasibility {
    pub(crate) required: u64,
    pub(crate) achievable: u64,
}

impl Feasibility {
    pub(crate) fn is_feasible(self) -> bool {
        self.achievable >= self.required
    }
}

/// Decides whether customers in `groups` can be given distinct funds so that fund `f` gets
/// between `ranges[f].0` and `ranges[f].1` customers.
///
/// Exact: per group the aggregated amounts `x_gf ≤ count_g` with
/// `need_min·count ≤ Σ_f x_gf ≤ need_max·count` split into per-customer sets of distinct funds by
/// McNaughton's wrap-around rule (deal the units fund by fund to customers 0, 1, …, count−1,
/// 0, 1, …), which gives every customer ⌊·⌋ or ⌈·⌉ of the group total and never one fund twice.
/// Lower bounds are handled by the textbook reduction to a max flow from a super source.
pub(crate) fn transport_feasibility(groups: &[Group], ranges: &[(u64, u64)]) -> Feasibility {
    let g = groups.len();
    let f = ranges.len();
    // Nodes: s, t, groups, funds, super source, super sink.
    let (s, t) = (0, 1);
    let group_node = |i: usize| 2 + i;
    let fund_node = |j: usize| 2 + g + j;
    let (ss, tt) = (2 + g + f, 3 + g + f);
    let mut net = Network::new(4 + g + f);
    let mut excess = vec![0i128; 4 + g + f];
    let mut add = |net: &mut Network, from: usize, to: usize, lo: u64, hi: u64| {
        net.add_edge(from, to, hi.saturating_sub(lo));
        excess[to] += i128::from(lo);
        excess[from] -= i128::from(lo);
    };
    for (i, group) in groups.iter().enumerate() {
        let lo = group.need_min.saturating_mul(group.count);
        let hi = group.need_max.saturating_mul(group.count);
        add(&mut net, s, group_node(i), lo, hi);
        for &j in &group.eligible {
            add(&mut net, group_node(i), fund_node(j), 0, group.count);
        }
    }
    for (j, &(lo, hi)) in ranges.iter().enumerate() {
        add(&mut net, fund_node(j), t, lo, hi);
    }
    net.add_edge(t, s, u64::MAX / 4);
    let mut required = 0u64;
    for (v, &e) in excess.iter().enumerate() {
        if e > 0 {
            let e = u64::try_from(e).unwrap_or(u64::MAX / 4);
            net.add_edge(ss, v, e);
            required = required.saturating_add(e);
        } else if e < 0 {
            let e = u64::try_from(-e).unwrap_or(u64::MAX / 4);
            net.add_edge(v, tt, e);
        }
    }
    let achievable = net.max_flow(ss, tt);
    Feasibility {
        required,
        achievable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_flow_on_a_textbook_graph() {
        let mut n = Network::new(4);
        n.add_edge(0, 1, 3);
        n.add_edge(0, 2, 2);
        n.add_edge(1, 2, 5);
        n.add_edge(1, 3, 2);
        let e = n.add_edge(2, 3, 3);
        assert_eq!(n.max_flow(0, 3), 5);
        assert_eq!(n.flow(e), 3);
    }

    #[test]
    fn transport_feasibility_respects_distinct_funds_and_bounds() {
        // 3 customers, each exactly 2 distinct funds out of 2: every fund needs 3.
        let g = [Group {
            count: 3,
            need_min: 2,
            need_max: 2,
            eligible: vec![0, 1],
        }];
        assert!(transport_feasibility(&g, &[(3, 3), (3, 3)]).is_feasible());
        // 4 + 2 cannot work: fund 0 can take each customer once only.
        assert!(!transport_feasibility(&g, &[(4, 4), (2, 2)]).is_feasible());
        // Ranges: fund 0 in [0, 3], fund 1 in [3, 5] works.
        assert!(transport_feasibility(&g, &[(0, 3), (3, 5)]).is_feasible());
        // At most 1 per customer but fund minimums need 4.
        let g1 = [Group {
            count: 3,
            need_min: 0,
            need_max: 1,
            eligible: vec![0, 1],
        }];
        assert!(!transport_feasibility(&g1, &[(2, 9), (2, 9)]).is_feasible());
        assert!(transport_feasibility(&g1, &[(1, 9), (2, 9)]).is_feasible());
    }
}

//! The case base: customers (cases) in a column store, their portfolios, the product catalogue
//! and the current ranges of the linear features.

use std::collections::{BTreeMap, HashMap};

use fundalloc_core_types::{CustomerId, FundId, TooLarge};
use serde::{Deserialize, Serialize};

use crate::assignment::AssignmentScratch;
use crate::distance::{dp_unit, linear_raw, unit};
use crate::error::{IdKind, Input, ParseProblem, ValueKind};
use crate::product::{Catalogue, N_CLASSES};
use crate::schema::{Column, FeatureKind, NominalMetric, Schema};
use crate::{CbrError, Result};

/// The id of a portfolio (unique among one customer's portfolios).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PortfolioId(String);

impl PortfolioId {
    /// An id from any string.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PortfolioId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for PortfolioId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<String> for PortfolioId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

/// Code of a missing nominal value in the column store.
pub(crate) const MISSING: u16 = u16::MAX;

/// A raw feature value as read from JSON/CSV: a number (linear features; for nominal features
/// an integer category index) or a category name (nominal features).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A number.
    Num(f64),
    /// A category name.
    Text(String),
}

/// One holding of a portfolio: a product and its share (any non-negative unit: shares are
/// normalised to fractions summing to 1 when the portfolio is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holding {
    /// The product's id (must be in the catalogue).
    pub product: FundId,
    /// Its share (weight) in the portfolio.
    pub share: f64,
}

/// A portfolio as given by the user: the second-level (per-asset) description. The first
/// level (6-class shares) is derived from the products' classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortfolioRecord {
    /// The portfolio's id.
    pub id: PortfolioId,
    /// Its holdings.
    pub holdings: Vec<Holding>,
}

/// A customer as given by the user: id, named feature values (absent or `null` = missing) and
/// portfolios (possibly none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRecord {
    /// The customer's id.
    pub id: CustomerId,
    /// Feature values by feature name; absent or `null` means missing.
    #[serde(default)]
    pub features: BTreeMap<String, Option<Value>>,
    /// The customer's portfolios.
    #[serde(default)]
    pub portfolios: Vec<PortfolioRecord>,
}

impl CustomerRecord {
    /// A record without features or portfolios.
    pub fn new(id: impl Into<CustomerId>) -> Self {
        Self {
            id: id.into(),
            features: BTreeMap::new(),
            portfolios: Vec::new(),
        }
    }

    /// Sets a numeric feature.
    #[must_use]
    pub fn num(mut self, feature: &str, v: f64) -> Self {
        self.features.insert(feature.into(), Some(Value::Num(v)));
        self
    }

    /// Sets a category feature by name.
    #[must_use]
    pub fn cat(mut self, feature: &str, v: &str) -> Self {
        self.features
            .insert(feature.into(), Some(Value::Text(v.into())));
        self
    }

    /// Adds a portfolio from `(product, share)` pairs.
    #[must_use]
    pub fn portfolio(mut self, id: &str, holdings: &[(&str, f64)]) -> Self {
        self.portfolios.push(PortfolioRecord {
            id: id.into(),
            holdings: holdings
                .iter()
                .map(|&(p, s)| Holding {
                    product: p.into(),
                    share: s,
                })
                .collect(),
        });
        self
    }
}

/// A stored portfolio (both levels), normalised so that shares sum to 1.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EncodedPortfolio {
    pub(crate) id: String,
    pub(crate) classes: [f64; N_CLASSES],
    pub(crate) unit_classes: [f64; N_CLASSES],
    pub(crate) assets: Vec<u32>,
    pub(crate) shares: Vec<f64>,
    pub(crate) norm: f64,
}

/// A validated, encoded case not yet stored ([`CaseBase::prepare_case`]).
#[derive(Debug, Clone)]
pub(crate) struct PreparedCase {
    id: CustomerId,
    lin: Vec<f64>,
    nom: Vec<u16>,
    pfs: Vec<EncodedPortfolio>,
}

/// A read-only view of a stored portfolio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PortfolioView<'a> {
    /// The portfolio's id.
    pub id: &'a str,
    /// First level: the share of each of the 6 classes (sums to 1).
    pub classes: &'a [f64; N_CLASSES],
    /// Second level: product indices (catalogue order, ascending).
    pub assets: &'a [u32],
    /// Second level: the share of each product (sums to 1).
    pub shares: &'a [f64],
}

/// The target of a query: a stored customer (excluded from its own neighbours) or an external
/// profile (a new customer, a cluster representative).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub(crate) id: CustomerId,
    pub(crate) case: Option<u32>,
    pub(crate) lin: Vec<f64>,
    pub(crate) nom: Vec<u16>,
    pub(crate) pfs: Vec<EncodedPortfolio>,
}

impl Target {
    /// The target's id.
    pub fn id(&self) -> &CustomerId {
        &self.id
    }
    /// Its case index when it is a stored customer.
    pub fn case(&self) -> Option<u32> {
        self.case
    }
    /// Whether it owns at least one portfolio (Step 2 applies).
    pub fn has_portfolios(&self) -> bool {
        !self.pfs.is_empty()
    }
}

/// The case base (the CBR case library) in a structure-of-arrays layout: one column per linear
/// feature (`f64`, NaN = missing), one per nominal feature (`u16` codes), portfolios flattened.
#[derive(Debug, Clone)]
pub struct CaseBase {
    schema: Schema,
    catalogue: Catalogue,
    ids: Vec<CustomerId>,
    index: HashMap<CustomerId, u32>,
    pub(crate) lin: Vec<Vec<f64>>,
    pub(crate) nom: Vec<Vec<u16>>,
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// `pf_start[i]..pf_start[i+1]` are customer `i`'s portfolios.
    pub(crate) pf_start: Vec<u32>,
    pf_ids: Vec<String>,
    pf_classes: Vec<[f64; N_CLASSES]>,
    pub(crate) pf_unit: Vec<[f64; N_CLASSES]>,
    /// `hold_start[p]..hold_start[p+1]` are portfolio `p`'s holdings.
    hold_start: Vec<u32>,
    hold_asset: Vec<u32>,
    hold_share: Vec<f64>,
    pf_norm: Vec<f64>,
}

/// The serialised form of a case base (JSON): schema, products and customers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseBaseData {
    /// The schema (defaults to [`Schema::smartfasi`]).
    #[serde(default = "Schema::smartfasi")]
    pub schema: Schema,
    /// The product catalogue.
    pub products: Catalogue,
    /// The customers.
    pub customers: Vec<CustomerRecord>,
}

fn too_many(what: &'static str) -> CbrError {
    TooLarge::new(what, u128::from(u32::MAX) + 1, u32::MAX).into()
}

impl CaseBase {
    /// An empty case base.
    pub fn new(schema: Schema, catalogue: Catalogue) -> Self {
        let nl = schema.n_linear();
        Self {
            lin: vec![Vec::new(); nl],
            nom: vec![Vec::new(); schema.n_nominal()],
            lo: vec![f64::INFINITY; nl],
            hi: vec![f64::NEG_INFINITY; nl],
            schema,
            catalogue,
            ids: Vec::new(),
            index: HashMap::new(),
            pf_start: vec![0],
            pf_ids: Vec::new(),
            pf_classes: Vec::new(),
            pf_unit: Vec::new(),
            hold_start: vec![0],
            hold_asset: Vec::new(),
            hold_share: Vec::new(),
            pf_norm: Vec::new(),
        }
    }

    /// A case base from its serialised form (every record validated).
    pub fn from_data(data: CaseBaseData) -> Result<Self> {
        let mut cb = Self::new(data.schema, data.products);
        for c in data.customers {
            cb.add(c)?;
        }
        Ok(cb)
    }

    /// Reads a case base from JSON ([`CaseBaseData`]).
    pub fn from_json(reader: impl std::io::Read) -> Result<Self> {
        let data: CaseBaseData = serde_json::from_reader(reader).map_err(|e| CbrError::Parse {
            input: Input::CaseBaseJson,
            record: None,
            problem: ParseProblem::Syntax(e.to_string()),
        })?;
        Self::from_data(data)
    }

    /// Writes the case base as JSON ([`CaseBaseData`]).
    pub fn to_json(&self, writer: impl std::io::Write) -> Result<()> {
        serde_json::to_writer(writer, &self.to_data()).map_err(|e| CbrError::Io(e.into()))
    }

    /// The serialisable form of this case base.
    pub fn to_data(&self) -> CaseBaseData {
        CaseBaseData {
            schema: self.schema.clone(),
            products: self.catalogue.clone(),
            customers: (0..self.len() as u32).map(|i| self.record(i)).collect(),
        }
    }

    /// Reads customers from CSV (header `id,<feature names…>`, empty cell = missing; nominal
    /// cells hold category names) and holdings from CSV (header
    /// `customer,portfolio,product,share`).
    pub fn from_csv(
        schema: Schema,
        catalogue: Catalogue,
        customers: impl std::io::Read,
        holdings: impl std::io::Read,
    ) -> Result<Self> {
        let bad = |input: Input, record: Option<usize>, problem: ParseProblem| CbrError::Parse {
            input,
            record,
            problem,
        };
        let syntax = |input: Input| {
            move |e: csv::Error| {
                let record = e.position().map(|p| p.record() as usize);
                bad(input, record, ParseProblem::Syntax(e.to_string()))
            }
        };
        let mut records: Vec<CustomerRecord> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        let mut rd = csv::Reader::from_reader(customers);
        let header = rd.headers().map_err(syntax(Input::CustomersCsv))?.clone();
        if header.get(0) != Some("id") {
            return Err(bad(
                Input::CustomersCsv,
                None,
                ParseProblem::MissingIdColumn,
            ));
        }
        for (n, row) in rd.records().enumerate() {
            let row = row.map_err(syntax(Input::CustomersCsv))?;
            let mut rec = CustomerRecord::new(row.get(0).unwrap_or_default());
            for (name, cell) in header.iter().zip(row.iter()).skip(1) {
                let cell = cell.trim();
                let Some(f) = schema.feature_index(name) else {
                    return Err(bad(
                        Input::CustomersCsv,
                        None,
                        ParseProblem::UnknownColumn(name.to_owned()),
                    ));
                };
                let v = if cell.is_empty() {
                    None
                } else {
                    match schema.features()[f].kind {
                        FeatureKind::Linear => Some(Value::Num(cell.parse().map_err(|_| {
                            bad(
                                Input::CustomersCsv,
                                Some(n + 1),
                                ParseProblem::NotANumber(cell.to_owned()),
                            )
                        })?)),
                        FeatureKind::Nominal { .. } => Some(Value::Text(cell.to_owned())),
                    }
                };
                rec.features.insert(name.to_owned(), v);
            }
            by_id.insert(rec.id.to_string(), records.len());
            records.push(rec);
        }
        #[derive(Deserialize)]
        struct Row {
            customer: String,
            portfolio: String,
            product: String,
            share: f64,
        }
        let mut rd = csv::Reader::from_reader(holdings);
        for row in rd.deserialize::<Row>() {
            let row = row.map_err(syntax(Input::HoldingsCsv))?;
            let Some(&c) = by_id.get(&row.customer) else {
                return Err(CbrError::UnknownCustomer {
                    id: row.customer.into(),
                });
            };
            let pfs = &mut records[c].portfolios;
            let h = Holding {
                product: row.product.into(),
                share: row.share,
            };
            match pfs.iter_mut().find(|p| p.id.as_str() == row.portfolio) {
                Some(p) => p.holdings.push(h),
                None => pfs.push(PortfolioRecord {
                    id: row.portfolio.into(),
                    holdings: vec![h],
                }),
            }
        }
        Self::from_data(CaseBaseData {
            schema,
            products: catalogue,
            customers: records,
        })
    }

    /// Writes the case base as two CSV files in the format [`CaseBase::from_csv`] reads:
    /// customers (`id,<feature names…>`, empty cell = missing) and holdings
    /// (`customer,portfolio,product,share`, shares as stored fractions).
    pub fn to_csv(
        &self,
        customers: impl std::io::Write,
        holdings: impl std::io::Write,
    ) -> Result<()> {
        let io = |e: csv::Error| CbrError::Io(e.into());
        let mut c = csv::Writer::from_writer(customers);
        let mut header = vec!["id".to_owned()];
        header.extend(self.schema.features().iter().map(|f| f.name.clone()));
        c.write_record(&header).map_err(io)?;
        let mut h = csv::Writer::from_writer(holdings);
        h.write_record(["customer", "portfolio", "product", "share"])
            .map_err(io)?;
        for i in 0..self.len() as u32 {
            let rec = self.record(i);
            let mut row = vec![rec.id.to_string()];
            for f in self.schema.features() {
                row.push(match rec.features.get(&f.name).and_then(Option::as_ref) {
                    None => String::new(),
                    Some(Value::Num(x)) => x.to_string(),
                    Some(Value::Text(t)) => t.clone(),
                });
            }
            c.write_record(&row).map_err(io)?;
            for p in &rec.portfolios {
                for x in &p.holdings {
                    h.write_record([
                        rec.id.as_str(),
                        p.id.as_str(),
                        x.product.as_str(),
                        &x.share.to_string(),
                    ])
                    .map_err(io)?;
                }
            }
        }
        c.flush()?;
        h.flush()?;
        Ok(())
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
    /// The product catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }
    /// The number of cases.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// Whether there are no cases.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    /// The customer ids in case order.
    pub fn ids(&self) -> &[CustomerId] {
        &self.ids
    }
    /// The case index of a customer id.
    pub fn index_of(&self, id: &CustomerId) -> Option<u32> {
        self.index.get(id).copied()
    }
    /// `range(f) = max − min` of the stored values of the `k`-th linear feature (0 if fewer
    /// than one value).
    pub fn linear_range(&self, k: usize) -> f64 {
        match (self.lo.get(k), self.hi.get(k)) {
            (Some(lo), Some(hi)) if hi >= lo => hi - lo,
            _ => 0.0,
        }
    }
    /// The total number of stored portfolios.
    pub fn n_portfolios(&self) -> usize {
        self.pf_ids.len()
    }

    /// The portfolio indices of case `i`.
    pub(crate) fn pf_range(&self, i: u32) -> std::ops::Range<usize> {
        let i = i as usize;
        self.pf_start[i] as usize..self.pf_start[i + 1] as usize
    }

    /// A stored portfolio by global index.
    pub fn portfolio(&self, p: usize) -> Option<PortfolioView<'_>> {
        let r = *self.hold_start.get(p)? as usize..*self.hold_start.get(p + 1)? as usize;
        Some(PortfolioView {
            id: &self.pf_ids[p],
            classes: &self.pf_classes[p],
            assets: &self.hold_asset[r.clone()],
            shares: &self.hold_share[r],
        })
    }

    /// The portfolios of case `i`.
    pub fn portfolios_of(&self, i: u32) -> Vec<PortfolioView<'_>> {
        if i as usize >= self.len() {
            return Vec::new();
        }
        self.pf_range(i).filter_map(|p| self.portfolio(p)).collect()
    }

    pub(crate) fn pf_norm(&self, p: usize) -> f64 {
        self.pf_norm[p]
    }

    /// Retain (the 4th R): validates and stores a solved case; the linear ranges are updated.
    /// Returns the new case index.
    pub fn add(&mut self, record: CustomerRecord) -> Result<u32> {
        if self.index.contains_key(&record.id) {
            return Err(CbrError::DuplicateId {
                what: IdKind::Customer,
                id: record.id.to_string(),
            });
        }
        let (lin, nom, pfs) = self.encode(&record)?;
        self.add_encoded(record.id, lin, nom, pfs)
    }

    /// Validates `record` as [`CaseBase::add`] would (unique id, schema, catalogue, finite
    /// ranges) without storing it: [`CaseBase::push_prepared`] then stores it (the server
    /// writes the case to its store in between).
    pub(crate) fn prepare_case(&self, record: &CustomerRecord) -> Result<PreparedCase> {
        if self.index.contains_key(&record.id) {
            return Err(CbrError::DuplicateId {
                what: IdKind::Customer,
                id: record.id.to_string(),
            });
        }
        let (lin, nom, pfs) = self.encode(record)?;
        self.check_ranges(&record.id, &lin)?;
        Ok(PreparedCase {
            id: record.id.clone(),
            lin,
            nom,
            pfs,
        })
    }

    /// Stores a case made by [`CaseBase::prepare_case`] on this case base (re-checked).
    pub(crate) fn push_prepared(&mut self, p: PreparedCase) -> Result<u32> {
        self.add_encoded(p.id, p.lin, p.nom, p.pfs)
    }

    fn check_ranges(&self, id: &CustomerId, lin: &[f64]) -> Result<()> {
        for (c, &x) in lin.iter().enumerate() {
            let (lo, hi) = (self.lo[c].min(x), self.hi[c].max(x));
            if !x.is_nan() && !(hi - lo).is_finite() {
                let feature = self
                    .schema
                    .features()
                    .iter()
                    .zip(self.schema.columns())
                    .find(|(_, col)| matches!(col, Column::Linear(k) if *k == c))
                    .map_or_else(String::new, |(f, _)| f.name.clone());
                return Err(CbrError::RangeOverflow {
                    customer: id.clone(),
                    feature,
                    value: x,
                });
            }
        }
        Ok(())
    }

    /// Validates (unique id, finite range) and stores an encoded case.
    pub(crate) fn add_encoded(
        &mut self,
        id: CustomerId,
        lin: Vec<f64>,
        nom: Vec<u16>,
        pfs: Vec<EncodedPortfolio>,
    ) -> Result<u32> {
        if self.index.contains_key(&id) {
            return Err(CbrError::DuplicateId {
                what: IdKind::Customer,
                id: id.to_string(),
            });
        }
        self.check_ranges(&id, &lin)?;
        self.push_encoded(id, lin, nom, pfs)
    }

    /// Encodes a record against the schema and catalogue.
    pub(crate) fn encode(
        &self,
        r: &CustomerRecord,
    ) -> Result<(Vec<f64>, Vec<u16>, Vec<EncodedPortfolio>)> {
        let cust = || r.id.clone();
        for name in r.features.keys() {
            if self.schema.feature_index(name).is_none() {
                return Err(CbrError::UnknownFeature {
                    customer: cust(),
                    feature: name.clone(),
                });
            }
        }
        let mut lin = vec![f64::NAN; self.schema.n_linear()];
        let mut nom = vec![MISSING; self.schema.n_nominal()];
        for (f, col) in self.schema.features().iter().zip(self.schema.columns()) {
            let v = r.features.get(&f.name).and_then(Option::as_ref);
            match (col, v) {
                (_, None) => {}
                (Column::Linear(c), Some(Value::Num(x))) => {
                    if !x.is_finite() {
                        return Err(CbrError::NonFiniteFeature {
                            customer: cust(),
                            feature: f.name.clone(),
                            value: *x,
                        });
                    }
                    lin[*c] = *x;
                }
                (Column::Linear(_), Some(Value::Text(_))) => {
                    return Err(CbrError::WrongValueKind {
                        customer: cust(),
                        feature: f.name.clone(),
                        expected: ValueKind::Number,
                    });
                }
                (Column::Nominal(c, n, _), Some(v)) => {
                    let code = match v {
                        Value::Text(t) => self
                            .schema
                            .category_index(self.schema.feature_index(&f.name).unwrap_or(0), t),
                        Value::Num(x) if x.fract() == 0.0 && *x >= 0.0 && *x < *n as f64 => {
                            Some(*x as u16)
                        }
                        Value::Num(_) => None,
                    };
                    nom[*c] = code.ok_or_else(|| CbrError::UnknownCategory {
                        customer: cust(),
                        feature: f.name.clone(),
                        value: match v {
                            Value::Text(t) => t.clone(),
                            Value::Num(x) => x.to_string(),
                        },
                    })?;
                }
            }
        }
        let mut pfs = Vec::with_capacity(r.portfolios.len());
        let mut seen = std::collections::HashSet::new();
        for p in &r.portfolios {
            if !seen.insert(p.id.as_str()) {
                return Err(CbrError::DuplicateId {
                    what: IdKind::Portfolio,
                    id: p.id.to_string(),
                });
            }
            pfs.push(self.encode_portfolio(p)?);
        }
        Ok((lin, nom, pfs))
    }

    fn encode_portfolio(&self, p: &PortfolioRecord) -> Result<EncodedPortfolio> {
        let mut by_asset: BTreeMap<u32, f64> = BTreeMap::new();
        for h in &p.holdings {
            if !h.share.is_finite() || h.share < 0.0 {
                return Err(CbrError::InvalidShare {
                    portfolio: p.id.clone(),
                    product: h.product.clone(),
                    share: h.share,
                });
            }
            let a =
                self.catalogue
                    .index_of(&h.product)
                    .ok_or_else(|| CbrError::UnknownProduct {
                        portfolio: p.id.clone(),
                        product: h.product.clone(),
                    })?;
            if h.share > 0.0 {
                *by_asset.entry(a).or_insert(0.0) += h.share;
            }
        }
        self.normalise_portfolio(p.id.to_string(), by_asset)
            .ok_or_else(|| CbrError::EmptyPortfolio {
                portfolio: p.id.clone(),
            })
    }

    /// Normalises summed positive shares by asset into a stored portfolio (`None` when the
    /// shares are all zero or their sum overflows). Every path that stores a portfolio from
    /// given shares (records, the case store) goes through here, so they agree to the bit.
    pub(crate) fn normalise_portfolio(
        &self,
        id: String,
        by_asset: BTreeMap<u32, f64>,
    ) -> Option<EncodedPortfolio> {
        let total: f64 = by_asset.values().sum();
        if by_asset.is_empty() || total <= 0.0 || !total.is_finite() {
            return None;
        }
        let assets: Vec<u32> = by_asset.keys().copied().collect();
        let shares: Vec<f64> = by_asset.values().map(|s| s / total).collect();
        Some(self.portfolio_from_parts(id, assets, shares))
    }

    /// Builds an encoded portfolio from sorted asset indices and shares summing to 1.
    pub(crate) fn portfolio_from_parts(
        &self,
        id: String,
        assets: Vec<u32>,
        shares: Vec<f64>,
    ) -> EncodedPortfolio {
        let mut classes = [0.0; N_CLASSES];
        for (&a, &s) in assets.iter().zip(&shares) {
            if let Some(prod) = self.catalogue.get(a) {
                classes[prod.class()] += s;
            }
        }
        let norm = shares.iter().map(|s| s * s).sum::<f64>().sqrt();
        EncodedPortfolio {
            id,
            classes,
            unit_classes: unit(classes),
            assets,
            shares,
            norm,
        }
    }

    /// Stores an already encoded case (ids must be checked by the caller).
    pub(crate) fn push_encoded(
        &mut self,
        id: CustomerId,
        lin: Vec<f64>,
        nom: Vec<u16>,
        pfs: Vec<EncodedPortfolio>,
    ) -> Result<u32> {
        let i = u32::try_from(self.ids.len()).map_err(|_| too_many("customers"))?;
        for (k, x) in lin.into_iter().enumerate() {
            if !x.is_nan() {
                self.lo[k] = self.lo[k].min(x);
                self.hi[k] = self.hi[k].max(x);
            }
            self.lin[k].push(x);
        }
        for (k, c) in nom.into_iter().enumerate() {
            self.nom[k].push(c);
        }
        for p in pfs {
            self.pf_ids.push(p.id);
            self.pf_classes.push(p.classes);
            self.pf_unit.push(p.unit_classes);
            self.pf_norm.push(p.norm);
            self.hold_asset.extend_from_slice(&p.assets);
            self.hold_share.extend_from_slice(&p.shares);
            self.hold_start
                .push(u32::try_from(self.hold_asset.len()).map_err(|_| too_many("holdings"))?);
        }
        self.pf_start
            .push(u32::try_from(self.pf_ids.len()).map_err(|_| too_many("portfolios"))?);
        self.index.insert(id.clone(), i);
        self.ids.push(id);
        Ok(i)
    }

    /// Decodes case `i` back into a record.
    pub fn record(&self, i: u32) -> CustomerRecord {
        let mut rec = CustomerRecord::new(
            self.ids
                .get(i as usize)
                .cloned()
                .unwrap_or_else(|| CustomerId::new("")),
        );
        let iu = i as usize;
        if iu >= self.len() {
            return rec;
        }
        for (f, col) in self.schema.features().iter().zip(self.schema.columns()) {
            let v = match col {
                Column::Linear(c) => {
                    let x = self.lin[*c][iu];
                    (!x.is_nan()).then_some(Value::Num(x))
                }
                Column::Nominal(c, _, _) => {
                    let code = self.nom[*c][iu];
                    match &f.kind {
                        FeatureKind::Nominal { categories, .. } if code != MISSING => categories
                            .get(usize::from(code))
                            .map(|s| Value::Text(s.clone())),
                        _ => None,
                    }
                }
            };
            rec.features.insert(f.name.clone(), v);
        }
        for p in self.portfolios_of(i) {
            rec.portfolios.push(PortfolioRecord {
                id: p.id.into(),
                holdings: p
                    .assets
                    .iter()
                    .zip(p.shares)
                    .filter_map(|(&a, &s)| {
                        Some(Holding {
                            product: self.catalogue.get(a)?.id.clone(),
                            share: s,
                        })
                    })
                    .collect(),
            });
        }
        rec
    }

    /// The stored customer `id` as a query target (excluded from its own neighbours).
    pub fn target(&self, id: &CustomerId) -> Result<Target> {
        let i = self
            .index_of(id)
            .ok_or_else(|| CbrError::UnknownCustomer { id: id.clone() })?;
        Ok(self.target_of_case(i))
    }

    pub(crate) fn target_of_case(&self, i: u32) -> Target {
        let iu = i as usize;
        Target {
            id: self.ids[iu].clone(),
            case: Some(i),
            lin: self.lin.iter().map(|c| c[iu]).collect(),
            nom: self.nom.iter().map(|c| c[iu]).collect(),
            pfs: self
                .pf_range(i)
                .map(|p| {
                    let r = self.hold_start[p] as usize..self.hold_start[p + 1] as usize;
                    EncodedPortfolio {
                        id: self.pf_ids[p].clone(),
                        classes: self.pf_classes[p],
                        unit_classes: self.pf_unit[p],
                        assets: self.hold_asset[r.clone()].to_vec(),
                        shares: self.hold_share[r].to_vec(),
                        norm: self.pf_norm[p],
                    }
                })
                .collect(),
        }
    }

    /// An external profile (not stored) as a query target, e.g. a new customer.
    pub fn target_from_record(&self, record: &CustomerRecord) -> Result<Target> {
        let (lin, nom, pfs) = self.encode(record)?;
        Ok(Target {
            id: record.id.clone(),
            case: None,
            lin,
            nom,
            pfs,
        })
    }

    /// The target's MiFID adequacy level (`None` if missing or the schema has none).
    pub fn adequacy(&self, t: &Target) -> Option<f64> {
        let x = *t.lin.get(self.schema.adequacy_column()?)?;
        (!x.is_nan()).then_some(x)
    }

    /// The global distance of Eq. 5 between a target and stored case `i`:
    /// `D = Σ wᵢ·dᵢ / Σ wᵢ` with HEOM for the scalar features and `Dp` (Eq. 3) for the
    /// portfolios. Returns `None` for an index out of range.
    pub fn target_distance(&self, t: &Target, i: u32) -> Option<f64> {
        if i as usize >= self.len() {
            return None;
        }
        let k = Kernel::new(self, t);
        let mut s = KernelScratch::default();
        Some(k.distance(i as usize, &mut s))
    }

    /// The global distance of Eq. 5 between two stored customers.
    pub fn distance(&self, a: u32, b: u32) -> Option<f64> {
        if a as usize >= self.len() {
            return None;
        }
        self.target_distance(&self.target_of_case(a), b)
    }
}

/// Per-thread scratch space of the distance kernel.
#[derive(Debug, Default)]
pub(crate) struct KernelScratch {
    pub(crate) cost: Vec<f64>,
    pub(crate) assign: AssignmentScratch,
}

/// A target prepared for fast distance evaluation against the column store.
pub(crate) struct Kernel<'a> {
    cb: &'a CaseBase,
    /// (column, target value, weight, range) for linear features with a target value.
    lin: Vec<(usize, f64, f64, f64)>,
    /// (column, target code, weight, n, metric) for nominal features with a target value.
    nom: Vec<(usize, u16, f64, usize, &'a NominalMetric)>,
    /// Weighted contribution of features missing in the target (distance 1 each).
    constant: f64,
    pf_weight: f64,
    pf_unit: Vec<[f64; N_CLASSES]>,
    inv_wsum: f64,
}

impl<'a> Kernel<'a> {
    pub(crate) fn new(cb: &'a CaseBase, t: &Target) -> Self {
        let schema = &cb.schema;
        let mut k = Kernel {
            cb,
            lin: Vec::new(),
            nom: Vec::new(),
            constant: 0.0,
            pf_weight: f64::from(schema.portfolio_weight()),
            pf_unit: t.pfs.iter().map(|p| p.unit_classes).collect(),
            inv_wsum: 1.0 / schema.weight_sum(),
        };
        for (f, col) in schema.features().iter().zip(schema.columns()) {
            let w = f64::from(f.weight);
            match col {
                Column::Linear(c) => {
                    let x = t.lin.get(*c).copied().unwrap_or(f64::NAN);
                    if x.is_nan() {
                        k.constant += w;
                    } else {
                        k.lin.push((*c, x, w, cb.linear_range(*c)));
                    }
                }
                Column::Nominal(c, n, m) => {
                    let x = t.nom.get(*c).copied().unwrap_or(MISSING);
                    if x == MISSING || usize::from(x) >= *n {
                        k.constant += w;
                    } else {
                        k.nom.push((*c, x, w, *n, m));
                    }
                }
            }
        }
        if k.pf_unit.is_empty() {
            // Target without portfolios: Dp = 1 for every case (missing feature).
            k.constant += k.pf_weight;
        }
        k
    }

    /// Eq. 5 for one case.
    pub(crate) fn distance(&self, i: usize, s: &mut KernelScratch) -> f64 {
        let mut acc = self.constant;
        for &(c, x, w, r) in &self.lin {
            acc += w * linear_raw(x, self.cb.lin[c][i], r);
        }
        for &(c, x, w, n, m) in &self.nom {
            let y = self.cb.nom[c][i];
            acc += w * m.get(usize::from(x), usize::from(y), n);
        }
        if !self.pf_unit.is_empty() {
            let pc = &self.cb.pf_unit[self.cb.pf_range(i as u32)];
            acc += self.pf_weight * dp_unit(&self.pf_unit, pc, &mut s.cost, &mut s.assign);
        }
        acc * self.inv_wsum
    }

    /// Eq. 5 for cases `start..start+out.len()`, column by column (vectorisable inner loops).
    pub(crate) fn distances(&self, start: usize, out: &mut [f64], s: &mut KernelScratch) {
        out.fill(self.constant);
        let end = start + out.len();
        for &(c, x, w, r) in &self.lin {
            let col = &self.cb.lin[c][start..end];
            if r > 0.0 {
                // Same arithmetic as `linear_raw` (divide, not multiply by 1/r): chunked and
                // single-case distances must agree to the last bit.
                for (o, &y) in out.iter_mut().zip(col) {
                    let d = if y.is_nan() {
                        1.0
                    } else {
                        ((x - y).abs() / r).min(1.0)
                    };
                    *o += w * d;
                }
            } else {
                for (o, &y) in out.iter_mut().zip(col) {
                    *o += w * linear_raw(x, y, r);
                }
            }
        }
        for &(c, x, w, n, m) in &self.nom {
            let col = &self.cb.nom[c][start..end];
            match m {
                NominalMetric::Overlap => {
                    for (o, &y) in out.iter_mut().zip(col) {
                        *o += w * if y == x { 0.0 } else { 1.0 };
                    }
                }
                NominalMetric::Matrix(m) => {
                    let x = usize::from(x);
                    let row = m.get(x * n..x * n + n).unwrap_or_default();
                    for (o, &y) in out.iter_mut().zip(col) {
                        *o += w * row.get(usize::from(y)).copied().unwrap_or(1.0);
                    }
                }
            }
        }
        if !self.pf_unit.is_empty() {
            for (k, o) in out.iter_mut().enumerate() {
                let pc = &self.cb.pf_unit[self.cb.pf_range((start + k) as u32)];
                *o += self.pf_weight * dp_unit(&self.pf_unit, pc, &mut s.cost, &mut s.assign);
            }
        }
        for o in out.iter_mut() {
            *o *= self.inv_wsum;
        }
    }
}

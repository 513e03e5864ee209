//! Financial products (assets) and the product catalogue.

use std::collections::HashMap;

use fundalloc_core_types::{FundId, RiskLevel};
use serde::{Deserialize, Serialize};

use fundalloc_core_types::TooLarge;

use crate::error::{IdKind, Input, ParseProblem};
use crate::{CbrError, Result};

/// Who issued a bond-like asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Issuer {
    /// Corporate (C).
    Corporate,
    /// Government (G).
    Government,
}

/// The rate of a bond-like asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateType {
    /// Fixed rate (F).
    Fixed,
    /// Variable rate (V).
    Variable,
    /// Floating rate with cap (C).
    FloatingCap,
}

/// Number of first-level asset classes: {Corporate, Government} × {Fixed, Variable, Floating-cap}.
pub const N_CLASSES: usize = 6;

/// The paper's six first-level asset classes, in the order used by first-level portfolio arrays:
/// CF, CV, CC, GF, GV, GC.
pub const CLASS_NAMES: [&str; N_CLASSES] = ["CF", "CV", "CC", "GF", "GV", "GC"];

/// A financial product that can be held in a portfolio and recommended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Product {
    /// The product's code (the `asset` of an answer line).
    pub id: FundId,
    /// Its risk level; a customer may be recommended it only if `risk_level <= adequacy`.
    pub risk_level: RiskLevel,
    /// Corporate or government.
    pub issuer: Issuer,
    /// Fixed, variable or floating-with-cap rate.
    pub rate: RateType,
}

impl Product {
    /// A product.
    pub fn new(id: impl Into<FundId>, risk_level: u8, issuer: Issuer, rate: RateType) -> Self {
        Self {
            id: id.into(),
            risk_level: RiskLevel::new(risk_level),
            issuer,
            rate,
        }
    }

    /// Its first-level class index in `0..6` (see [`CLASS_NAMES`]).
    pub fn class(&self) -> usize {
        let i = match self.issuer {
            Issuer::Corporate => 0,
            Issuer::Government => 3,
        };
        i + match self.rate {
            RateType::Fixed => 0,
            RateType::Variable => 1,
            RateType::FloatingCap => 2,
        }
    }
}

/// The product catalogue: products by dense index and by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    products: Vec<Product>,
    index: HashMap<FundId, u32>,
}

#[derive(Deserialize)]
struct ProductRow {
    id: String,
    risk_level: u8,
    issuer: String,
    rate: String,
}

impl Catalogue {
    /// A catalogue from products; ids must be unique.
    pub fn new(products: Vec<Product>) -> Result<Self> {
        let mut index = HashMap::with_capacity(products.len());
        for (i, p) in products.iter().enumerate() {
            let i = u32::try_from(i)
                .map_err(|_| TooLarge::new("products", products.len() as u128, u32::MAX))?;
            if index.insert(p.id.clone(), i).is_some() {
                return Err(CbrError::DuplicateId {
                    what: IdKind::Product,
                    id: p.id.to_string(),
                });
            }
        }
        Ok(Self { products, index })
    }

    /// Reads a catalogue from CSV with header `id,risk_level,issuer,rate`; issuer is `C`/`G`
    /// (or `corporate`/`government`), rate is `F`/`V`/`C` (or `fixed`/`variable`/`floating_cap`).
    pub fn from_csv(reader: impl std::io::Read) -> Result<Self> {
        let mut rd = csv::Reader::from_reader(reader);
        let mut products = Vec::new();
        for (line, row) in rd.deserialize::<ProductRow>().enumerate() {
            let bad = |problem: ParseProblem| CbrError::Parse {
                input: Input::ProductsCsv,
                record: Some(line + 1),
                problem,
            };
            let row = row.map_err(|e| bad(ParseProblem::Syntax(e.to_string())))?;
            let issuer = match row.issuer.to_ascii_lowercase().as_str() {
                "c" | "corporate" => Issuer::Corporate,
                "g" | "government" => Issuer::Government,
                _ => return Err(bad(ParseProblem::UnknownIssuer(row.issuer))),
            };
            let rate = match row.rate.to_ascii_lowercase().as_str() {
                "f" | "fixed" => RateType::Fixed,
                "v" | "variable" => RateType::Variable,
                "c" | "floating_cap" => RateType::FloatingCap,
                _ => return Err(bad(ParseProblem::UnknownRate(row.rate))),
            };
            products.push(Product::new(row.id, row.risk_level, issuer, rate));
        }
        Self::new(products)
    }

    /// Writes the catalogue as CSV in the format [`Catalogue::from_csv`] reads.
    pub fn to_csv(&self, writer: impl std::io::Write) -> Result<()> {
        let io = |e: csv::Error| CbrError::Io(e.into());
        let mut w = csv::Writer::from_writer(writer);
        w.write_record(["id", "risk_level", "issuer", "rate"])
            .map_err(io)?;
        for p in &self.products {
            let issuer = match p.issuer {
                Issuer::Corporate => "C",
                Issuer::Government => "G",
            };
            let rate = match p.rate {
                RateType::Fixed => "F",
                RateType::Variable => "V",
                RateType::FloatingCap => "C",
            };
            w.write_record([p.id.as_str(), &p.risk_level.get().to_string(), issuer, rate])
                .map_err(io)?;
        }
        w.flush()?;
        Ok(())
    }

    /// The products in index order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The number of products.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether the catalogue is empty.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// The dense index of a product id.
    pub fn index_of(&self, id: &FundId) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// A product by dense index.
    pub fn get(&self, index: u32) -> Option<&Product> {
        self.products.get(index as usize)
    }
}

impl Serialize for Catalogue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.products.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Catalogue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let products = Vec::<Product>::deserialize(d)?;
        Catalogue::new(products).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_csv() {
        let csv = "id,risk_level,issuer,rate\nb1,2,C,F\nb2,1,G,C\nb3,4,corporate,variable\n";
        let cat = Catalogue::from_csv(csv.as_bytes()).unwrap();
        assert_eq!(cat.len(), 3);
        assert_eq!(cat.products()[0].class(), 0);
        assert_eq!(cat.products()[1].class(), 5);
        assert_eq!(cat.products()[2].class(), 1);
        assert_eq!(cat.index_of(&"b2".into()), Some(1));
        let bad = "id,risk_level,issuer,rate\nb1,2,X,F\n";
        assert!(matches!(
            Catalogue::from_csv(bad.as_bytes()),
            Err(CbrError::Parse { .. })
        ));
        let bad = "id,risk_level,issuer,rate\nb1,two,C,F\n";
        assert!(matches!(
            Catalogue::from_csv(bad.as_bytes()),
            Err(CbrError::Parse { .. })
        ));
        let dup = "id,risk_level,issuer,rate\nb1,2,C,F\nb1,2,C,F\n";
        assert!(matches!(
            Catalogue::from_csv(dup.as_bytes()),
            Err(CbrError::DuplicateId { .. })
        ));
        let json = serde_json::to_string(&cat).unwrap();
        let back: Catalogue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cat);
    }
}

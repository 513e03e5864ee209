//! Saving and loading trained models in a small, versioned, checksummed binary format.
//!
//! Layout (little-endian): magic `FUNDREV\0`, format version `u32`, payload length `u64`,
//! payload, FNV-1a-64 checksum of the payload `u64`. The payload holds the model kind, the
//! feature schema, the network sizes, ε, the preprocessing (numeric means/stds, revenue scale)
//! and every float parameter (rank, dims, values) in the network's traversal order.
//! Version 2 added each categorical feature's level names; version 1 files still load (their
//! features have none).
//! Reading checks magic, version, length, checksum, every count and every tensor shape (each
//! size against the bytes left before anything of that size is allocated), and that every
//! stored number is finite, so a truncated, corrupted or foreign file gives a typed error
//! instead of a panic or a model that predicts NaN.

use std::path::Path;

use burn::tensor::Device;
use fundalloc_core_types::NonFinite;

use crate::encode::Encoder;
use crate::model::{Counterfactual, ModelKind, Net, NetDims};
use crate::nn::loss::CounterfactualTerm;
use crate::{FeatureSchema, Result, RevenueModel, RevenueModelError, Side, params_io};

const MAGIC: &[u8; 8] = b"FUNDREV\0";
/// Format version written by this crate (files of versions 1 to this one are read).
pub const FORMAT_VERSION: u32 = 2;

impl RevenueModel {
    /// The model as bytes (see the module docs for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode(FORMAT_VERSION)
    }

    /// The layout of `version` (1 leaves out the levels; tests write it to check old files load).
    fn encode(&self, version: u32) -> Vec<u8> {
        let mut w = Vec::new();
        w.push(self.kind.code());
        put_u32(&mut w, self.schema.embedding_dim() as u32);
        put_u32(&mut w, self.schema.categorical().len() as u32);
        for c in self.schema.categorical() {
            put_str(&mut w, &c.name);
            put_u32(&mut w, c.cardinality);
            w.push(side_code(c.side));
            if version >= 2 {
                put_u32(&mut w, c.levels.len() as u32);
                for level in &c.levels {
                    put_str(&mut w, level);
                }
            }
        }
        put_u32(&mut w, self.schema.numeric().len() as u32);
        for n in self.schema.numeric() {
            put_str(&mut w, &n.name);
            w.push(side_code(n.side));
            w.push(u8::from(n.log1p));
        }
        put_u32(&mut w, self.dims.hidden.len() as u32);
        for &h in &self.dims.hidden {
            put_u32(&mut w, h as u32);
        }
        put_u32(&mut w, self.dims.n_experts as u32);
        w.extend_from_slice(&self.dims.dropout.to_le_bytes());
        w.extend_from_slice(&self.cf.log_eps.to_le_bytes());
        w.push(match self.cf.term {
            CounterfactualTerm::Probability => 0,
            CounterfactualTerm::Density => 1,
        });
        w.extend_from_slice(&self.encoder.revenue_scale.to_le_bytes());
        for (&m, &s) in self.encoder.mean.iter().zip(&self.encoder.std) {
            w.extend_from_slice(&m.to_le_bytes());
            w.extend_from_slice(&s.to_le_bytes());
        }
        let tensors = params_io::collect(&self.net);
        put_u32(&mut w, tensors.len() as u32);
        for (shape, values) in tensors {
            put_u32(&mut w, shape.len() as u32);
            for d in shape {
                w.extend_from_slice(&(d as u64).to_le_bytes());
            }
            for v in values {
                w.extend_from_slice(&v.to_le_bytes());
            }
        }
        let mut out = Vec::with_capacity(w.len() + 28);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, version);
        out.extend_from_slice(&(w.len() as u64).to_le_bytes());
        let sum = fnv1a(&w);
        out.extend_from_slice(&w);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads a model from bytes written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(8)? != MAGIC {
            return Err(corrupt("not a fundalloc revenue model (bad magic)"));
        }
        let version = r.u32()?;
        if !(1..=FORMAT_VERSION).contains(&version) {
            return Err(RevenueModelError::VersionMismatch {
                expected: FORMAT_VERSION,
                found: version,
            });
        }
        let len = usize::try_from(r.u64()?).map_err(|_| corrupt("payload length overflows"))?;
        let payload = r.take(len)?;
        let sum = r.u64()?;
        if r.pos != bytes.len() {
            return Err(corrupt("trailing bytes after the checksum"));
        }
        if fnv1a(payload) != sum {
            return Err(corrupt("checksum mismatch"));
        }
        parse_payload(payload, version)
    }

    /// Writes the model to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_bytes()).map_err(|source| RevenueModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a model from `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| RevenueModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Reads a model and checks it was trained on `schema` (names, cardinalities, sides,
    /// transforms and embedding size).
    pub fn load_expecting(path: impl AsRef<Path>, schema: &FeatureSchema) -> Result<Self> {
        let model = Self::load(path)?;
        if model.schema() != schema {
            return Err(RevenueModelError::SchemaMismatch {
                reason: format!("file has {:?}, expected {:?}", model.schema(), schema),
            });
        }
        Ok(model)
    }
}

fn parse_payload(payload: &[u8], version: u32) -> Result<RevenueModel> {
    let mut r = Reader {
        bytes: payload,
        pos: 0,
    };
    let kind = ModelKind::from_code(r.u8()?).ok_or_else(|| corrupt("unknown model kind"))?;
    let mut b = FeatureSchema::builder().embedding_dim(r.count()?);
    for _ in 0..r.count()? {
        let name = r.string()?;
        let card = r.u32()?;
        let side = r.side()?;
        let n_levels = if version >= 2 { r.count()? } else { 0 };
        if n_levels == 0 {
            b = b.categorical(name, card, side);
        } else {
            if n_levels != card as usize {
                return Err(corrupt("level count does not match the cardinality"));
            }
            let levels = (0..n_levels)
                .map(|_| r.string())
                .collect::<Result<Vec<_>>>()?;
            // `build` below checks the levels are distinct, non-empty and trimmed.
            b = b.categorical_levels(name, levels, side);
        }
    }
    for _ in 0..r.count()? {
        let name = r.string()?;
        let side = r.side()?;
        b = b.numeric(name, side, r.u8()? != 0);
    }
    let schema = b
        .build()
        .map_err(|e| corrupt(&format!("invalid schema: {e}")))?;
    let mut hidden = Vec::new();
    for _ in 0..r.count()? {
        hidden.push(r.count()?);
    }
    let n_experts = r.count()?;
    let dropout = r.f64()?;
    let log_eps = r.f64()?;
    let term = match r.u8()? {
        0 => CounterfactualTerm::Probability,
        1 => CounterfactualTerm::Density,
        _ => return Err(corrupt("unknown counterfactual term")),
    };
    if hidden.is_empty()
        || hidden.contains(&0)
        || n_experts == 0
        || !(0.0..1.0).contains(&dropout)
        || !log_eps.is_finite()
    {
        return Err(corrupt("invalid network sizes"));
    }
    let revenue_scale = r.f32()?;
    let (mut mean, mut std) = (Vec::new(), Vec::new());
    for _ in 0..schema.numeric().len() {
        mean.push(r.f32()?);
        std.push(r.f32()?);
    }
    if !(revenue_scale.is_finite() && revenue_scale > 0.0)
        || std.iter().any(|s| !(s.is_finite() && *s > 0.0))
    {
        return Err(corrupt("invalid preprocessing constants"));
    }
    if let Some((j, &m)) = mean.iter().enumerate().find(|(_, m)| !m.is_finite()) {
        return Err(NonFinite::at_index("model file numeric means", j, f64::from(m)).into());
    }
    let n_tensors = r.count()?;
    let mut tensors = Vec::new();
    for _ in 0..n_tensors {
        let rank = r.count()?;
        let mut shape = Vec::new();
        for _ in 0..rank {
            shape.push(usize::try_from(r.u64()?).map_err(|_| corrupt("tensor dim overflows"))?);
        }
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| corrupt("tensor size overflows"))?;
        if n > r.remaining() / 4 {
            return Err(corrupt("tensor larger than the file"));
        }
        let values = (0..n).map(|_| r.f32()).collect::<Result<Vec<_>>>()?;
        // A NaN or infinite weight would make every prediction NaN: refuse it here, with its
        // place (tensor, value), rather than load a model that cannot predict.
        if let Some((j, &v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            let tensor = tensors.len();
            return Err(
                NonFinite::at_cell("model file parameters", tensor, j, f64::from(v)).into(),
            );
        }
        tensors.push((shape, values));
    }
    if r.remaining() != 0 {
        return Err(corrupt("unread bytes in the payload"));
    }
    let mut encoder = Encoder {
        offsets: Vec::new(),
        log1p: schema.numeric().iter().map(|n| n.log1p).collect(),
        mean,
        std,
        revenue_scale,
    };
    let mut next = 0i64;
    for c in schema.categorical() {
        encoder.offsets.push(next);
        next += i64::from(c.cardinality);
    }
    let dims = NetDims {
        total_cardinality: schema.total_cardinality(),
        n_categorical: schema.categorical().len(),
        embedding_dim: schema.embedding_dim(),
        input: schema.input_dim(),
        hidden,
        n_experts,
        dropout,
    };
    // Sizes first, allocation second: the tensors were bounded by the file's length, and the
    // network the header describes must hold exactly their floats.
    let stored: u128 = tensors.iter().map(|(_, values)| values.len() as u128).sum();
    if dims.parameter_count(kind) != stored {
        return Err(corrupt(
            "the network sizes do not match the number of stored parameters",
        ));
    }
    let net = Net::new(kind, &dims, &Device::flex());
    let (net, error) = params_io::load(net, tensors);
    if let Some(e) = error {
        return Err(corrupt(&e));
    }
    Ok(RevenueModel {
        kind,
        schema,
        dims,
        cf: Counterfactual { log_eps, term },
        encoder,
        net: burn::module::Module::valid(&net),
    })
}

fn corrupt(reason: &str) -> RevenueModelError {
    RevenueModelError::CorruptModel {
        reason: reason.to_string(),
    }
}

fn side_code(s: Side) -> u8 {
    match s {
        Side::Customer => 0,
        Side::Fund => 1,
    }
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_u32(w, s.len() as u32);
    w.extend_from_slice(s.as_bytes());
}

/// FNV-1a, 64-bit: detects accidental corruption (not an integrity guarantee against tampering).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(corrupt("file is truncated"));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    /// A `u32` count, bounded by the bytes left so a corrupt count cannot allocate wildly.
    fn count(&mut self) -> Result<usize> {
        let n = self.u32()? as usize;
        if n > self.remaining().max(1 << 16) {
            return Err(corrupt("count larger than the file"));
        }
        Ok(n)
    }
    fn string(&mut self) -> Result<String> {
        let n = self.count()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt("a name is not UTF-8"))
    }
    fn side(&mut self) -> Result<Side> {
        match self.u8()? {
            0 => Ok(Side::Customer),
            1 => Ok(Side::Fund),
            _ => Err(corrupt("unknown feature side")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExposureDataset, ModelKind, NoObserver, TrainParams, fit};
    use fundalloc_core_types::ParamGuard;
    use ndarray::{Array1, Array2};

    /// A one-epoch model over a customer feature with levels and a fund feature with codes.
    fn model_with_levels() -> (RevenueModel, ExposureDataset) {
        let schema = FeatureSchema::builder()
            .categorical_levels("segment", ["mass", "premium", "private"], Side::Customer)
            .categorical("fund", 2, Side::Fund)
            .embedding_dim(2)
            .build()
            .unwrap();
        let n = 24;
        let cat =
            Array2::from_shape_fn((n, 2), |(i, j)| (if j == 0 { i % 3 } else { i % 2 }) as u32);
        let converted = Array1::from_shape_fn(n, |i| i % 3 == 2);
        let revenue = Array1::from_shape_fn(n, |i| if i % 3 == 2 { 5.0 } else { 0.0 });
        let data =
            ExposureDataset::new(schema, cat, Array2::zeros((n, 0)), converted, revenue).unwrap();
        let params = TrainParams::default()
            .hidden(vec![4])
            .batch_size(8)
            .max_epochs(1)
            .check()
            .unwrap();
        let (model, _) = fit(
            ModelKind::EntireSpaceLogNormal,
            &params,
            &data,
            None,
            &mut NoObserver,
        )
        .unwrap();
        (model, data)
    }

    /// The bytes of `bytes` with the payload replaced by `f(payload)` and a fresh checksum.
    fn rewrite_payload(bytes: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut payload = bytes[20..bytes.len() - 8].to_vec();
        f(&mut payload);
        let mut out = bytes[..12].to_vec();
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&fnv1a(&payload).to_le_bytes());
        out
    }

    #[test]
    fn non_finite_parameters_are_refused_at_load() {
        let (model, _) = cached_model();
        let bytes = model.to_bytes();
        let n_tensors = params_io::collect(&model.net).len();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            // The payload ends with the last float of the last tensor.
            let mutated = rewrite_payload(&bytes, |p| {
                let end = p.len();
                p[end - 4..].copy_from_slice(&bad.to_le_bytes());
            });
            match RevenueModel::from_bytes(&mutated) {
                Err(RevenueModelError::NonFinite(e)) => {
                    assert_eq!(e.what, "model file parameters");
                    assert_eq!(e.row(), n_tensors - 1);
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(RevenueModel::from_bytes(&bytes).is_ok());
    }

    #[test]
    fn levels_round_trip_and_version_1_files_still_load() {
        let (model, data) = model_with_levels();
        let back = RevenueModel::from_bytes(&model.to_bytes()).unwrap();
        assert_eq!(back.schema(), model.schema());
        assert_eq!(back.schema().categorical()[0].levels[2], "private");
        assert_eq!(back.predict(&data).unwrap(), model.predict(&data).unwrap());

        // A version-1 file (no levels) of the same network: same predictions, codes only.
        let v1 = model.encode(1);
        assert_eq!(v1[8..12], 1u32.to_le_bytes());
        let old = RevenueModel::from_bytes(&v1).unwrap();
        assert!(old.schema().categorical()[0].levels.is_empty());
        assert_eq!(old.schema().categorical()[0].cardinality, 3);
        // The same codes under the level-less schema (a dataset must match its model's schema).
        let coded = ExposureDataset::new(
            old.schema().clone(),
            data.categorical().to_owned(),
            data.numeric().to_owned(),
            data.converted().clone(),
            data.revenue().clone(),
        )
        .unwrap();
        assert_eq!(old.predict(&coded).unwrap(), model.predict(&data).unwrap());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any payload with a valid checksum (what a buggy writer, not a bit flip, produces)
        /// reads as a model or a typed error, never a panic: every count, size and shape in the
        /// file is checked before use.
        #[test]
        fn any_checksummed_payload_reads_without_panic(
            edits in proptest::collection::vec(
                (proptest::prelude::any::<bool>(), 0.0f64..1.0, proptest::prelude::any::<u8>()),
                1..6,
            ),
            cut in 0.0f64..1.0,
            truncate in proptest::prelude::any::<bool>(),
        ) {
            let (model, _) = cached_model();
            let bytes = model.to_bytes();
            let mutated = rewrite_payload(&bytes, |p| {
                for &(in_header, at, byte) in &edits {
                    // Half the edits hit the sizes and names before the first tensor (the
                    // first 160 bytes here), the rest anywhere.
                    let span = if in_header { p.len().min(160) } else { p.len() };
                    p[((span - 1) as f64 * at) as usize] = byte;
                }
                if truncate {
                    p.truncate((p.len() as f64 * cut) as usize);
                }
            });
            if let Ok(m) = RevenueModel::from_bytes(&mutated) {
                // Whatever loads is a consistent model: it writes back to the same bytes.
                proptest::prop_assert_eq!(m.to_bytes(), mutated);
            }
        }
    }

    /// The model of [`model_with_levels`], trained once for all proptest cases.
    fn cached_model() -> &'static (RevenueModel, ExposureDataset) {
        static MODEL: std::sync::OnceLock<(RevenueModel, ExposureDataset)> =
            std::sync::OnceLock::new();
        MODEL.get_or_init(model_with_levels)
    }

    #[test]
    fn corrupt_levels_give_typed_errors() {
        let (model, _) = model_with_levels();
        let bytes = model.to_bytes();
        let find = |payload: &[u8], what: &[u8]| {
            payload.windows(what.len()).position(|w| w == what).unwrap()
        };
        // Two equal levels ("premium" renamed "private"): the schema check refuses them.
        let dup = rewrite_payload(&bytes, |p| {
            let at = find(p, b"premium");
            p[at..at + 7].copy_from_slice(b"private");
        });
        assert!(matches!(
            RevenueModel::from_bytes(&dup),
            Err(RevenueModelError::CorruptModel { ref reason }) if reason.contains("distinct")
        ));
        // A level count that disagrees with the cardinality (3 → 2 levels announced).
        let count = rewrite_payload(&bytes, |p| {
            let at = find(p, b"mass") - 8; // level count, then the first level's length
            assert_eq!(p[at..at + 4], 3u32.to_le_bytes());
            p[at..at + 4].copy_from_slice(&2u32.to_le_bytes());
        });
        assert!(matches!(
            RevenueModel::from_bytes(&count),
            Err(RevenueModelError::CorruptModel { ref reason }) if reason.contains("cardinality")
        ));
        // A level that is not UTF-8.
        let utf8 = rewrite_payload(&bytes, |p| {
            let at = find(p, b"mass");
            p[at] = 0xff;
        });
        assert!(matches!(
            RevenueModel::from_bytes(&utf8),
            Err(RevenueModelError::CorruptModel { .. })
        ));
    }
}

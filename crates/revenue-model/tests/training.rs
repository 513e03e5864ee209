//! End-to-end behaviour of training, prediction and persistence on tiny data (fast, CPU).
// Fixture helpers outside `#[test]` functions unwrap too; this file is test code throughout.
#![allow(clippy::unwrap_used)]

use fundalloc_revenue_model::prelude::*;
use fundalloc_revenue_model::{CounterfactualTerm, EpochReport, FORMAT_VERSION};
use ndarray::{Array1, Array2};

/// 64 rows, two customer codes, one numeric: code 1 converts with revenue ≈ 10·e^x, code 0 never.
fn tiny() -> ExposureDataset {
    let schema = FeatureSchema::builder()
        .categorical("segment", 2, Side::Customer)
        .numeric("x", Side::Customer, false)
        .categorical("fund", 2, Side::Fund)
        .embedding_dim(4)
        .build()
        .unwrap();
    let n = 64;
    let cat = Array2::from_shape_fn((n, 2), |(i, j)| {
        if j == 0 {
            (i % 2) as u32
        } else {
            ((i / 2) % 2) as u32
        }
    });
    let num = Array2::from_shape_fn((n, 1), |(i, _)| ((i % 8) as f32 - 3.5) / 4.0);
    let converted = Array1::from_shape_fn(n, |i| i % 2 == 1);
    let revenue = Array1::from_shape_fn(n, |i| {
        if i % 2 == 1 {
            10.0 * num[[i, 0]].exp()
        } else {
            0.0
        }
    });
    ExposureDataset::new(schema, cat, num, converted, revenue).unwrap()
}

fn params() -> TrainParams {
    TrainParams::default()
        .hidden(vec![16])
        .batch_size(16)
        .dropout(0.0)
        .learning_rate(0.02)
        .max_epochs(150)
        .patience(150)
}

#[test]
fn tiny_models_overfit_a_tiny_dataset() {
    let data = tiny();
    for kind in [
        ModelKind::EntireSpaceLogNormal,
        ModelKind::Ziln,
        ModelKind::MtlMse,
        ModelKind::DnnR,
    ] {
        let p = params().check().unwrap();
        let (model, report) = fit(kind, &p, &data, Some(&data), &mut NoObserver).unwrap();
        let first = report.history[0].valid_loss;
        assert!(
            report.best_valid_loss < first,
            "{kind}: {first} -> {}",
            report.best_valid_loss
        );
        let pred = model.predict(&data).unwrap();
        let e = pred.expected.unwrap();
        // Mean absolute error against the (deterministic) revenue, relative to its mean.
        let mae: f32 = e
            .iter()
            .zip(data.revenue())
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / e.len() as f32;
        let mean: f32 = data.revenue().mean().unwrap();
        assert!(
            mae < 0.25 * mean,
            "{kind}: MAE {mae} vs mean revenue {mean}"
        );
        if let Some(p) = pred.p_convert {
            for (i, &pc) in p.iter().enumerate() {
                let want = if i % 2 == 1 { 1.0 } else { 0.0 };
                assert!((pc - want).abs() < 0.1, "{kind}: row {i} P_c = {pc}");
            }
        }
    }
}

#[test]
fn training_is_deterministic_per_seed_and_observed() {
    struct Count(Vec<EpochReport>, usize);
    impl Observer<EpochReport> for Count {
        fn on_step(&mut self, _: usize, _: usize, _: usize) {
            self.1 += 1;
        }
        fn on_epoch(&mut self, r: &EpochReport) {
            self.0.push(r.clone());
        }
    }
    let data = tiny();
    let p = params().max_epochs(3).check().unwrap();
    let mut obs = Count(Vec::new(), 0);
    let (a, ra) = fit(ModelKind::EntireSpaceLogNormal, &p, &data, None, &mut obs).unwrap();
    let (b, _) = fit(
        ModelKind::EntireSpaceLogNormal,
        &p,
        &data,
        None,
        &mut NoObserver,
    )
    .unwrap();
    assert_eq!(obs.0.len(), 3);
    assert_eq!(ra.history.len(), 3);
    // 90% of 64 rows = 58 training rows in batches of 16: 4 batches per epoch.
    assert_eq!(obs.1, 12);
    assert_eq!(a.predict(&data).unwrap(), b.predict(&data).unwrap());
}

#[test]
fn save_load_round_trips_predictions_exactly() {
    let data = tiny();
    let dir = tempfile::tempdir().unwrap();
    for kind in ModelKind::ALL {
        let p = params().max_epochs(2).check().unwrap();
        let (model, _) = fit(kind, &p, &data, None, &mut NoObserver).unwrap();
        let path = dir.path().join(format!("{kind}.bin"));
        model.save(&path).unwrap();
        let loaded = RevenueModel::load_expecting(&path, data.schema()).unwrap();
        assert_eq!(loaded.kind(), kind);
        assert_eq!(
            model.predict(&data).unwrap(),
            loaded.predict(&data).unwrap(),
            "{kind}"
        );
    }
}

#[test]
fn corrupt_or_mismatched_files_give_typed_errors() {
    let data = tiny();
    let p = params().max_epochs(1).check().unwrap();
    let (model, _) = fit(
        ModelKind::EntireSpaceLogNormal,
        &p,
        &data,
        None,
        &mut NoObserver,
    )
    .unwrap();
    let bytes = model.to_bytes();
    assert!(RevenueModel::from_bytes(&bytes).is_ok());

    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(matches!(
        RevenueModel::from_bytes(&flipped),
        Err(RevenueModelError::CorruptModel { .. })
    ));

    for cut in [0, 5, 20, bytes.len() - 1] {
        assert!(matches!(
            RevenueModel::from_bytes(&bytes[..cut]),
            Err(RevenueModelError::CorruptModel { .. })
        ));
    }
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert!(matches!(
        RevenueModel::from_bytes(&magic),
        Err(RevenueModelError::CorruptModel { .. })
    ));

    let mut version = bytes.clone();
    version[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert!(matches!(
        RevenueModel::from_bytes(&version),
        Err(RevenueModelError::VersionMismatch { found, .. }) if found == FORMAT_VERSION + 1
    ));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.bin");
    model.save(&path).unwrap();
    let other = FeatureSchema::builder()
        .numeric("y", Side::Customer, false)
        .build()
        .unwrap();
    assert!(matches!(
        RevenueModel::load_expecting(&path, &other),
        Err(RevenueModelError::SchemaMismatch { .. })
    ));
    assert!(matches!(
        RevenueModel::load(dir.path().join("missing")),
        Err(RevenueModelError::Io { .. })
    ));
}

#[test]
fn matrix_prediction_matches_row_prediction() {
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(50)
            .n_funds(3)
            .seed(1),
    )
    .unwrap();
    let data = world.expose(3, 0.0, 2).unwrap();
    let p = params().max_epochs(2).check().unwrap();
    // Ours, ESMM, MTL-MSE, ZILN and DNN-R take the factorised first-layer path,
    // Shared-Bottom and MMoE the pair-by-pair path: both must equal row prediction.
    for kind in ModelKind::ALL.into_iter().filter(|k| k.predicts_revenue()) {
        let (model, _) = fit(kind, &p, &data, None, &mut NoObserver).unwrap();
        let m = model
            .predict_matrix(world.customers(), world.funds())
            .unwrap();
        assert_eq!((m.n_customers(), m.n_funds()), (50, 3));
        let rows = model.predict(&data).unwrap().expected.unwrap();
        // Row i of the exposure is customer i / 3 and the fund in its `fund_id` column.
        for i in 0..data.len() {
            let f = data.categorical()[[i, 3]] as usize;
            let got = m.get(i / 3, f).unwrap();
            assert!(
                (got - rows[i]).abs() <= 1e-4 * rows[i].max(1.0),
                "{kind} row {i}: {got} vs {}",
                rows[i]
            );
        }
    }
    let (dnn_c, _) = fit(ModelKind::DnnC, &p, &data, None, &mut NoObserver).unwrap();
    assert!(matches!(
        dnn_c.predict_matrix(world.customers(), world.funds()),
        Err(RevenueModelError::Unsupported { .. })
    ));
}

#[test]
fn conversion_matrix_matches_row_prediction() {
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(40)
            .n_funds(3)
            .seed(3),
    )
    .unwrap();
    let data = world.expose(3, 0.0, 4).unwrap();
    let p = params().max_epochs(2).check().unwrap();
    // ESMM takes the factorised path, MMoE the pair-by-pair one; DNN-C has only a conversion
    // head (no revenue matrix, but a conversion matrix).
    for kind in [ModelKind::Esmm, ModelKind::Mmoe, ModelKind::DnnC] {
        let (model, _) = fit(kind, &p, &data, None, &mut NoObserver).unwrap();
        let m = model
            .predict_conversion_matrix(world.customers(), world.funds())
            .unwrap();
        assert_eq!((m.n_customers(), m.n_funds()), (40, 3));
        let rows = model.predict(&data).unwrap().p_convert.unwrap();
        for i in 0..data.len() {
            let f = data.categorical()[[i, 3]] as usize;
            let got = m.get(i / 3, f).unwrap();
            assert!((0.0..=1.0).contains(&got));
            assert!(
                (got - rows[i]).abs() <= 1e-5,
                "{kind} row {i}: {got} vs {}",
                rows[i]
            );
        }
    }
    let (dnn_r, _) = fit(ModelKind::DnnR, &p, &data, None, &mut NoObserver).unwrap();
    assert!(matches!(
        dnn_r.predict_conversion_matrix(world.customers(), world.funds()),
        Err(RevenueModelError::Unsupported { .. })
    ));
    // A fund table of the wrong width is a typed error, as for the revenue matrix.
    let (esmm, _) = fit(ModelKind::Esmm, &p, &data, None, &mut NoObserver).unwrap();
    assert!(
        esmm.predict_conversion_matrix(world.funds(), world.funds())
            .is_err()
    );
}

/// Exact AUC by pairs (ties count ½): an independent, obviously-correct reference.
fn auc(labels: &[bool], scores: &[f32]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &li) in labels.iter().enumerate() {
        for (j, &lj) in labels.iter().enumerate() {
            if li && !lj {
                pairs += 1.0;
                wins += match scores[i].partial_cmp(&scores[j]) {
                    Some(std::cmp::Ordering::Greater) => 1.0,
                    Some(std::cmp::Ordering::Equal) => 0.5,
                    _ => 0.0,
                };
            }
        }
    }
    wins / pairs
}

/// The paper's literal Eq. 5 adds a density to a probability; the likelihood is then unbounded
/// and training pushes P_c of non-converted rows up. The default (probability) term keeps the
/// conversion head ranking customers. This is why the crate's default differs from the text.
#[test]
fn literal_density_term_degrades_conversion_ranking() {
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(1500)
            .n_funds(4)
            .seed(3),
    )
    .unwrap();
    let train = world.expose(2, 1.0, 4).unwrap();
    let test = world.expose(1, 0.0, 5).unwrap();
    let labels: Vec<bool> = test.converted().to_vec();
    let run = |term| {
        let p = TrainParams::default()
            .hidden(vec![16])
            .max_epochs(8)
            .patience(8)
            .dropout(0.0)
            .counterfactual(term)
            .check()
            .unwrap();
        let (m, _) = fit(
            ModelKind::EntireSpaceLogNormal,
            &p,
            &train,
            None,
            &mut NoObserver,
        )
        .unwrap();
        let pred = m.predict(&test).unwrap();
        let pc = pred.p_convert.unwrap();
        let mean_pc_negatives = pc
            .iter()
            .zip(&labels)
            .filter(|(_, l)| !**l)
            .map(|(p, _)| f64::from(*p))
            .sum::<f64>()
            / labels.iter().filter(|l| !**l).count() as f64;
        (auc(&labels, pc.as_slice().unwrap()), mean_pc_negatives)
    };
    let (auc_prob, pc_prob) = run(CounterfactualTerm::Probability);
    let (auc_dens, pc_dens) = run(CounterfactualTerm::Density);
    assert!(auc_prob > 0.7, "probability term AUC {auc_prob}");
    assert!(
        pc_dens > pc_prob + 0.2,
        "density term P_c on negatives {pc_dens} vs {pc_prob}"
    );
    assert!(
        auc_dens < auc_prob,
        "AUC density {auc_dens} vs probability {auc_prob}"
    );
}

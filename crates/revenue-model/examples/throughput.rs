//! Training and prediction throughput of "Ours" on the synthetic campaign, without the
//! workspace's example dependencies (side-by-side peer: `docs/pytorch_throughput.py`).
//!
//! `cargo run --release -p fundalloc-revenue-model --example throughput [-- ROWS EPOCHS PREDICT_CUSTOMERS]`
//!
//! Defaults: 54,000 exposure rows (18,000 customers × 3 funds; 90% = 48,600 train the model,
//! the rest is the early-stopping set), 4 epochs at batch 512, and `predict_matrix` on
//! 250,000 customers × 8 funds.

use std::time::Instant;

use fundalloc_revenue_model::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(std::env::args()
            .nth(i)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (rows, epochs, predict_customers) = (arg(1, 54_000)?, arg(2, 4)?, arg(3, 250_000)?);
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(rows / 3)
            .n_funds(8)
            .seed(0),
    )?;
    let data = world.expose(3, 1.0, 1)?;
    let params = TrainParams::default()
        .max_epochs(epochs)
        .patience(epochs)
        .check()?;
    let (_, report) = fit(
        ModelKind::EntireSpaceLogNormal,
        &params,
        &data,
        None,
        &mut NoObserver,
    )?;
    let per_epoch: Vec<String> = report
        .history
        .iter()
        .map(|e| format!("{:.0}", e.samples_per_second))
        .collect();
    let best = report
        .history
        .iter()
        .map(|e| e.samples_per_second)
        .fold(0.0, f64::max);
    println!(
        "train Ours: {} rows/epoch, batch 512, samples/s per epoch [{}], best {best:.0}, mean {:.0}",
        (data.len() as f64 * 0.9).round(),
        per_epoch.join(", "),
        report.samples_per_second()
    );

    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(predict_customers)
            .n_funds(8)
            .seed(0),
    )?;
    let train = world.expose(3, 1.0, 1)?;
    let train = train.select(&(0..train.len().min(20_000)).collect::<Vec<_>>())?;
    let (model, _) = fit(
        ModelKind::EntireSpaceLogNormal,
        &TrainParams::default().max_epochs(1).check()?,
        &train,
        None,
        &mut NoObserver,
    )?;
    let pairs = predict_customers * 8;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let e = model.predict_matrix(world.customers(), world.funds())?;
        best = best.min(start.elapsed().as_secs_f64());
        assert_eq!(e.n_customers() * e.n_funds(), pairs);
    }
    println!(
        "predict_matrix Ours: {pairs} pairs in {best:.3} s (best of 3) = {:.0} pairs/s",
        pairs as f64 / best
    );
    Ok(())
}

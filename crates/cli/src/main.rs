#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod allocate;
mod atomic;
mod features;
#[cfg(test)]
mod fuzz_replay;
mod input;
mod large;
mod npy;
mod predict;
mod serve;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fundalloc_allocator::AllocError;
use fundalloc_revenue_model::RevenueModelError;

use input::InputError;

#[derive(Parser, Debug)]
#[command(
    name = "fundalloc",
    version,
    about = "Predict-then-optimize fund allocation (PTOFA): train → predict → allocate"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a revenue model on logged exposures (CSV) and save it; print one JSON object.
    Train(train::TrainArgs),
    /// Predict the customers × funds revenue matrix (.npy) with a saved model; print one JSON
    /// object.
    Predict(predict::PredictArgs),
    /// Solve an allocation problem and print one JSON object.
    Allocate(allocate::AllocateArgs),
    /// Assign arriving customers (streamed CSV) at the fund prices of `allocate --prices-out`;
    /// print one JSON object.
    Assign(serve::AssignArgs),
}

/// Why a command failed, and its exit code.
enum Failure {
    /// A bad input file or argument (exit 2).
    Input(InputError),
    /// A command-line value outside its domain (exit 2).
    Argument(AllocError),
    /// An infeasible or invalid allocation problem (exit 2).
    Problem(AllocError),
    /// The allocation solver failed (exit 1).
    Solver(AllocError),
    /// The revenue model refused its input (exit 2) or failed (exit 1). `file` names the file
    /// when the error does not already.
    Model {
        file: Option<PathBuf>,
        error: RevenueModelError,
    },
}

impl Failure {
    fn model(error: RevenueModelError) -> Self {
        Failure::Model { file: None, error }
    }

    /// The message (one line) and the exit code.
    fn report(&self) -> (String, u8) {
        match self {
            Failure::Input(e) => (e.to_string(), 2),
            Failure::Argument(e) => (format!("invalid argument: {e}"), 2),
            Failure::Problem(e) => (format!("infeasible or invalid problem: {e}"), 2),
            Failure::Solver(e) => (format!("solver failed: {e}"), 1),
            Failure::Model { file, error } => {
                let code = match error {
                    RevenueModelError::Diverged { .. } | RevenueModelError::Backend { .. } => 1,
                    _ => 2,
                };
                let message = match file {
                    Some(f) => format!("{}: {error}", f.display()),
                    None => error.to_string(),
                };
                (message, code)
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Train(args) => train::train(args),
        Command::Predict(args) => predict::predict(args),
        Command::Allocate(args) => allocate::allocate(args),
        Command::Assign(args) => serve::assign(args),
    };
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let (message, code) = failure.report();
            // One line on stderr, whatever the source error's formatting.
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::from(code)
        }
    }
}

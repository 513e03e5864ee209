//! Starts the SMARTFASI recommendation server on a generated case base (loopback, ephemeral
//! port), queries it with the crate's client (single, group and malformed requests), builds
//! behavioural investment universes with k-medoids, and shuts the server down.
//!
//! `cargo run --release -p fundalloc-examples --example cbr_server -- --customers 100000`

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use fundalloc_cbr_advisor::{
    Client, GeneratorParams, KMedoids, KMedoidsParams, Order, QueryParams, Request, Response,
    Server, ServerParams, generate_case_base,
};
use fundalloc_core_types::CancelToken;

#[derive(Parser)]
struct Args {
    /// Customers in the generated case base.
    #[arg(long, default_value_t = 20_000)]
    customers: usize,
    /// Products in the catalogue.
    #[arg(long, default_value_t = 200)]
    products: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn print(resp: &Response) {
    match resp {
        Response::Answer(a) => {
            println!("  answer {} ({} products)", a.query_code, a.items.len());
            println!(
                "  {:<8} {:>6} {:>6} {:>6} {:>6}",
                "asset", "F", "AP", "ADC", "ADP"
            );
            let opt = |x: Option<f64>| x.map_or("NULL".to_owned(), |v| format!("{v:.3}"));
            for it in &a.items {
                println!(
                    "  {:<8} {:>6.3} {:>6.3} {:>6} {:>6}",
                    it.asset,
                    it.frequency,
                    it.average_share,
                    opt(it.adc),
                    opt(it.adp)
                );
            }
        }
        Response::Error(e) => println!("  error {} ({:?}): {}", e.code.code(), e.code, e.message),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let t0 = Instant::now();
    let cb = Arc::new(generate_case_base(GeneratorParams::new(
        args.customers,
        args.products,
        args.seed,
    ))?);
    println!(
        "generated {} customers with {} portfolios in {:.2} s",
        cb.len(),
        cb.n_portfolios(),
        t0.elapsed().as_secs_f64()
    );
    let server = Server::start(Arc::clone(&cb), ServerParams::loopback_ephemeral())?;
    let addr = server.local_addr();
    println!("server listening on {addr}");
    let mut client = Client::connect(addr, Duration::from_secs(10))?;

    let ids = cb.ids();
    let single = Request {
        n: Some(50),
        ..Request::new("Q1", ids[1].clone(), 8)
    };
    println!("\nrequest:\n{}", single.encode().trim_end());
    let t = Instant::now();
    let r = client.query(&single)?;
    println!("round trip {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
    print(&r);

    let group = Request {
        query_code: "G1".into(),
        customers: vec![ids[2].clone(), ids[3].clone(), ids[4].clone()],
        order: Order::LeastFrequentFirst,
        n: Some(30),
        j: Some(40),
        k: 5,
    };
    println!("\ngroup query (least frequent first):");
    print(&client.query(&group)?);

    println!("\nmalformed request (K missing):");
    print(&client.send_raw(b"01\nBAD\nC0000001\nNULL\nA\nNULL\nNULL\n.\n")?);
    println!("unknown customer:");
    print(&client.query(&Request::new("Q404", "nobody", 3))?);

    println!("\nbehavioural investment universes (k-medoids, 4 clusters, seed 7):");
    let no_limit = CancelToken::new();
    let clustering = KMedoids::fit(&cb, KMedoidsParams::new(4, 7), &no_limit)?;
    let unis =
        clustering.behavioural_universes(&cb, QueryParams::new(5).n(Some(100)), &no_limit)?;
    for (c, u) in unis.iter().enumerate() {
        let names: Vec<String> = u
            .assets
            .iter()
            .map(|a| format!("{} (F {:.2})", a.product, a.frequency))
            .collect();
        println!(
            "  cluster {c} (medoid {}, {} sampled members): {}",
            cb.ids()[clustering.medoids()[c] as usize],
            clustering.cluster(c).len(),
            names.join(", ")
        );
    }
    server.shutdown();
    println!("\nserver stopped");
    Ok(())
}

//! `cvm-bench`: continual-learning benchmarks of the cvm core (run through `cargo xtask bench`).
//!
//! ```text
//! cvm-bench cl --data DIR --concepts FILE [--quick] [--out FILE] [--plots DIR] [--datasets a,b]
//!              [--methods m,..] [--memories 200,500] [--seeds N] [--steps N] [--scale S] [--mapping W]
//! cvm-bench webcam --data DIR --concepts FILE --student FILE [--quick] [--seeds N] [--out FILE]
//! ```

mod cl;
mod data;
mod plot;
mod webcam;

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::Device;
use cl::{Method, Protocol};
use cvm::ConceptSpace;
use cvm::pretrained::Trunk;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn list<T: std::str::FromStr>(s: &str) -> Result<Vec<T>, String> {
    s.split(',').map(|v| v.trim().parse().map_err(|_| format!("cannot parse `{v}`"))).collect()
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: cvm-bench cl|webcam --data DIR --concepts FILE [--student FILE] [--quick] [--out FILE] ...";
    let command = args.first().map(String::as_str);
    if !matches!(command, Some("cl" | "webcam")) {
        return Err(usage.into());
    }
    let data = PathBuf::from(value(&args, "--data").ok_or("--data DIR is required")?);
    let concepts_path = value(&args, "--concepts").ok_or("--concepts FILE is required")?;
    let concepts = Arc::new(ConceptSpace::from_bytes(&read(concepts_path)?).map_err(|e| e.to_string())?);
    let quick = args.iter().any(|a| a == "--quick");
    let device = Device::flex().autodiff();
    println!("# cvm-bench {} ({})", command.unwrap_or(""), if quick { "quick" } else { "full" });
    println!("machine: {} ({} threads); backend: burn flex (CPU)", machine(), std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("concepts: {concepts_path} ({} names, {} dims, model {})", concepts.len(), concepts.dim(), concepts.metadata().get("model").and_then(|v| v.as_str()).unwrap_or("?"));
    if command == Some("webcam") {
        return webcam(&args, &data, &concepts, &device, quick);
    }
    cl(&args, &data, &concepts, &device, quick)
}

fn webcam(args: &[String], data: &std::path::Path, concepts: &Arc<ConceptSpace>, device: &Device, quick: bool) -> Result<(), String> {
    let student = value(args, "--student").ok_or("--student FILE is required")?;
    let trunk = Trunk::from_bytes(&read(student)?, device).map_err(|e| e.to_string())?;
    let mut protocol = if quick { webcam::Protocol::quick() } else { webcam::Protocol::full() };
    if let Some(n) = value(args, "--seeds") {
        protocol.seeds = (0..n.parse::<u64>().map_err(|_| "--seeds takes a number")?).collect();
    }
    println!("student: {student} ({:?})", trunk.input());
    println!("protocol: {}\n", serde_json::to_string(&protocol).expect("serialises"));
    let dataset = data::fashion_mnist(&data.join("fashion-mnist"))?;
    let report = webcam::run(&dataset, &trunk, &protocol, concepts, device, |line| println!("{line}"))?;
    println!("\n{}", webcam::table(&report));
    if let Some(out) = value(args, "--out") {
        std::fs::write(out, serde_json::to_string_pretty(&report).expect("serialises")).map_err(|e| format!("{out}: {e}"))?;
        println!("results: {out}");
    }
    Ok(())
}

fn cl(args: &[String], data: &std::path::Path, concepts: &Arc<ConceptSpace>, device: &Device, quick: bool) -> Result<(), String> {
    let mut protocol = if quick { Protocol::quick() } else { Protocol::full() };
    if let Some(m) = value(args, "--methods") {
        protocol.methods = m
            .split(',')
            .map(|name| Method::ALL.into_iter().find(|m| m.name() == name.trim()).ok_or(format!("unknown method `{name}`")))
            .collect::<Result<_, _>>()?;
    }
    if let Some(m) = value(args, "--memories") {
        protocol.memories = list(m)?;
    }
    if let Some(n) = value(args, "--seeds") {
        protocol.seeds = (0..n.parse::<u64>().map_err(|_| "--seeds takes a number")?).collect();
    }
    if let Some(n) = value(args, "--steps") {
        protocol.steps_per_experience = n.parse().map_err(|_| "--steps takes a number")?;
    }
    protocol.scale = value(args, "--scale").map(|s| s.parse().map_err(|_| "--scale takes a number")).transpose()?;
    protocol.mapping_weight = value(args, "--mapping").map(|s| s.parse().map_err(|_| "--mapping takes a number")).transpose()?;
    let datasets: Vec<String> = value(args, "--datasets").unwrap_or("fashion-mnist,mnist").split(',').map(str::to_string).collect();

    println!("protocol: {}\n", serde_json::to_string(&protocol).expect("serialises"));

    let mut results = Vec::new();
    for name in &datasets {
        let dataset = match name.as_str() {
            "fashion-mnist" => data::fashion_mnist(&data.join("fashion-mnist"))?,
            "mnist" => data::mnist(&data.join("mnist").join("mnist.pkl.gz"))?,
            other => return Err(format!("unknown dataset `{other}` (fashion-mnist, mnist)")),
        };
        for &seed in &protocol.seeds {
            for &method in &protocol.methods {
                let memories = if method.uses_memory() { protocol.memories.clone() } else { vec![0] };
                for memory in memories {
                    let r = cl::run(&dataset, method, memory, seed, &protocol, concepts, device)?;
                    println!(
                        "{:<14} {:<10} memory {:>4} seed {seed}: ACC {:5.1}%  forgetting {:5.1}%  AIA {:5.1}%  ({:.0} s)",
                        r.dataset,
                        method.name(),
                        r.memory,
                        100.0 * r.acc,
                        100.0 * r.forgetting,
                        100.0 * r.aia,
                        r.seconds
                    );
                    results.push(r);
                }
            }
        }
    }
    println!("\n{}", cl::table(&results));
    if let Some(out) = value(args, "--out") {
        std::fs::write(out, serde_json::to_string_pretty(&results).expect("serialises")).map_err(|e| format!("{out}: {e}"))?;
        println!("results: {out}");
    }
    if let Some(dir) = value(args, "--plots") {
        for path in plot::accuracy_curves(&results, std::path::Path::new(dir))? {
            println!("plot: {path}");
        }
    }
    Ok(())
}

/// CPU model name, for the record.
fn machine() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

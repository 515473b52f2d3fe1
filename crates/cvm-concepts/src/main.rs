//! `cvm-concepts`: builds concept-space blobs from a real language model, offline.
//!
//! ```text
//! cvm-concepts build --model smollm2|minilm --model-path PATH --vocab FILE --out FILE
//!                    [--dims D] [--dtype f16|f32|i8] [--template T] [--source PKG --source-sha256 HEX]
//! cvm-concepts vocab --wordnet DIR --count N --extra FILE... --imagenet JSON --out FILE --imagenet-out FILE
//! cvm-concepts generate --model-path GGUF --prompt TEXT [--tokens N]
//! cvm-concepts triples --blob FILE --triples FILE
//! ```

use std::path::Path;

use anyhow::{Context, Result, bail};
use cvm::BlobDtype;
use cvm_concepts::{BuildOptions, LanguageModel, SMOLLM2_TEMPLATE, minilm::MiniLm, smollm2::SmolLm, vocab};
use serde_json::Value;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn required<'a>(args: &'a [String], flag: &str) -> Result<&'a str> {
    value(args, flag).with_context(|| format!("{flag} is required"))
}

fn read(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {path}"))
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("build") => build(&args),
        Some("vocab") => {
            let wordnet = required(&args, "--wordnet")?;
            let count: usize = required(&args, "--count")?.parse().context("--count takes a number")?;
            let mut sources = Vec::new();
            for (i, a) in args.iter().enumerate() {
                if a == "--extra" {
                    let path = args.get(i + 1).context("--extra takes a file")?;
                    let source = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("extra").to_string();
                    let names = vocab::read(&read(path)?)?;
                    sources.push(names.names.into_iter().map(|n| (n, source.clone())).collect());
                }
            }
            sources.push(vocab::from_wordnet(Path::new(wordnet), count)?);
            let rows = vocab::merge(sources);
            let (imagenet, added) = vocab::imagenet(Path::new(wordnet), &read(required(&args, "--imagenet")?)?, &rows)?;
            let rows = vocab::merge(vec![rows, added]);
            let out = required(&args, "--out")?;
            std::fs::write(out, vocab::vocabulary_file(&rows)).with_context(|| format!("cannot write {out}"))?;
            println!("{} names → {out}", rows.len());
            let out = required(&args, "--imagenet-out")?;
            std::fs::write(out, vocab::imagenet_file(&imagenet)).with_context(|| format!("cannot write {out}"))?;
            println!("{} ImageNet classes → {out}", imagenet.len());
            Ok(())
        }
        Some("generate") => {
            let mut model = SmolLm::from_bytes(read(required(&args, "--model-path")?)?)?;
            let tokens = value(&args, "--tokens").map_or(Ok(8), str::parse).context("--tokens takes a number")?;
            println!("{}", model.generate(required(&args, "--prompt")?, tokens)?);
            Ok(())
        }
        Some("triples") => {
            let space = cvm::ConceptSpace::from_bytes(&read(required(&args, "--blob")?)?)?;
            let triples = cvm_concepts::read_triples(&String::from_utf8(read(required(&args, "--triples")?)?)?)?;
            let (held, total) = cvm_concepts::triple_accuracy(&space, &triples)?;
            println!("{held}/{total} triples hold ({:.1}%)", 100.0 * held as f64 / total as f64);
            Ok(())
        }
        _ => bail!("usage: cvm-concepts <build | vocab | generate | triples> (see the crate docs)"),
    }
}

fn build(args: &[String]) -> Result<()> {
    let model = required(args, "--model")?;
    let model_path = required(args, "--model-path")?;
    let vocab = vocab::read(&read(required(args, "--vocab")?)?)?;
    for (line, reason) in &vocab.skipped {
        eprintln!("skipped vocabulary line {line}: {reason}");
    }
    let dtype: BlobDtype = value(args, "--dtype").unwrap_or("f16").parse().map_err(anyhow::Error::msg)?;
    let dims = value(args, "--dims").map(str::parse).transpose().context("--dims takes a number")?;
    let mut provenance = cvm::blob::Metadata::new();
    let (mut encoder, template, model_id, pooling) = match model {
        "smollm2" => (
            LanguageModel::SmolLm2(SmolLm::from_bytes(read(model_path)?)?),
            value(args, "--template").unwrap_or(SMOLLM2_TEMPLATE).to_string(),
            "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1)",
            "final-norm hidden state of the last prompt token",
        ),
        "minilm" => (
            LanguageModel::MiniLm(MiniLm::load(Path::new(model_path))?),
            value(args, "--template").unwrap_or("{name}").to_string(),
            "sentence-transformers/all-MiniLM-L6-v2",
            "mean over tokens (attention mask)",
        ),
        other => bail!("--model must be smollm2 or minilm, not {other}"),
    };
    if !template.contains("{name}") {
        bail!("--template must contain {{name}}");
    }
    provenance.insert("model".into(), Value::from(model));
    provenance.insert("model_id".into(), Value::from(model_id));
    provenance.insert("pooling".into(), Value::from(pooling));
    if let Some(source) = value(args, "--source") {
        provenance.insert("source".into(), Value::from(source));
    }
    if let Some(sha) = value(args, "--source-sha256") {
        provenance.insert("source_sha256".into(), Value::from(sha));
    }
    let options = BuildOptions { template, dims, dtype, provenance };
    let (bytes, per_second) = cvm_concepts::build(&mut encoder, &vocab.names, &options)?;
    let out = required(args, "--out")?;
    std::fs::write(out, &bytes).with_context(|| format!("cannot write {out}"))?;
    println!(
        "{} concepts ({} skipped) → {out}: {:.2} MB, {per_second:.1} concepts/s",
        vocab.names.len(),
        vocab.skipped.len(),
        bytes.len() as f64 / 1e6
    );
    Ok(())
}

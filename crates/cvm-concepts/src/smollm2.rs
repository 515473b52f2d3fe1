//! SmolLM2-135M-Instruct from its GGUF, run with candle's `quantized_llama`.
//!
//! The concept embedding of a name is the final-norm hidden state of the last prompt token. candle's model
//! returns logits only, so the GGUF is loaded with an extra `output.weight`, the identity: its "logits" are
//! then exactly that hidden state. Generation applies the real LM head (the tied token embeddings, or the
//! file's own `output.weight`) to the same hidden state, so "The capital of France is" → " Paris" checks the
//! very code path that produces embeddings.
//!
//! Weights are dequantised to f32 once at load time (the values of the Q4_1 file, exactly): batched prompts
//! then run through dense matrix products, several times faster on a CPU than per-row quantised dots.

use std::collections::HashMap;
use std::io::Cursor;

use anyhow::{Context, Result, bail, ensure};
use candle_core::quantized::{GgmlDType, QMatMul, gguf_file};
use candle_core::{D, Device, Module, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{DecoderWrapper, PreTokenizerWrapper, Tokenizer};

/// Prompts per forward pass (all of one token length).
const BATCH: usize = 32;

pub struct SmolLm {
    model: ModelWeights,
    lm_head: QMatMul,
    tokenizer: Tokenizer,
    hidden: usize,
    device: Device,
}

fn md<'a>(ct: &'a gguf_file::Content, key: &str) -> Result<&'a gguf_file::Value> {
    ct.metadata.get(key).with_context(|| format!("GGUF metadata has no `{key}`"))
}

impl SmolLm {
    /// Loads and validates a llama-architecture GGUF with its byte-level BPE tokenizer.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Result<Self> {
        let device = Device::Cpu;
        let ct = gguf_file::Content::read(&mut Cursor::new(&bytes))
            .context("not a readable GGUF file (truncated or damaged header)")?;
        let arch = md(&ct, "general.architecture")?.to_string().map_err(anyhow::Error::msg)?.clone();
        ensure!(arch == "llama", "expected a llama-architecture GGUF (SmolLM2), found architecture `{arch}`");
        let tokenizer_model = md(&ct, "tokenizer.ggml.model")?.to_string().map_err(anyhow::Error::msg)?.clone();
        ensure!(tokenizer_model == "gpt2", "expected a byte-level BPE (`gpt2`) tokenizer, found `{tokenizer_model}`");
        let hidden = md(&ct, "llama.embedding_length")?.to_u32().map_err(anyhow::Error::msg)? as usize;

        // Every tensor must lie inside the file: a truncated download fails here, by name.
        for (name, info) in &ct.tensor_infos {
            let size = info.shape.elem_count() / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
            let end = ct.tensor_data_offset + info.offset + size as u64;
            ensure!(
                end <= bytes.len() as u64,
                "GGUF is truncated: tensor `{name}` ends at byte {end}, the file has {}",
                bytes.len()
            );
        }
        let mut ct = ct;
        let mut reader = Cursor::new(&bytes);
        let lm_head = match ct.tensor(&mut reader, "output.weight", &device) {
            Ok(t) => t,
            Err(_) => {
                ct.tensor(&mut reader, "token_embd.weight", &device).context("GGUF has no `token_embd.weight`")?
            }
        };
        let lm_head = QMatMul::from_qtensor(lm_head)?;
        let tokenizer = tokenizer_from_gguf(&ct)?;

        // f32 copies of the quantised tensors and the identity head, appended after the file's data.
        let mut appended: Vec<(String, Vec<f32>, candle_core::Shape)> = Vec::new();
        let mut names: Vec<String> = ct.tensor_infos.keys().cloned().collect();
        names.sort();
        for name in names {
            let info = &ct.tensor_infos[&name];
            if !matches!(info.ggml_dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16) {
                let shape = info.shape.clone();
                let values =
                    ct.tensor(&mut reader, &name, &device)?.dequantize(&device)?.flatten_all()?.to_vec1::<f32>()?;
                appended.push((name, values, shape));
            }
        }
        let identity = (0..hidden * hidden).map(|k| if k % (hidden + 1) == 0 { 1.0 } else { 0.0 }).collect();
        appended.push(("output.weight".into(), identity, (hidden, hidden).into()));
        for (name, values, shape) in appended {
            bytes.resize(bytes.len().next_multiple_of(32), 0);
            let offset = bytes.len() as u64 - ct.tensor_data_offset;
            bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            ct.tensor_infos.insert(name, gguf_file::TensorInfo { ggml_dtype: GgmlDType::F32, shape, offset });
        }
        let model =
            ModelWeights::from_gguf(ct, &mut Cursor::new(&bytes), &device).context("loading the llama weights")?;
        Ok(Self { model, lm_head, tokenizer, hidden, device })
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.tokenizer.encode(text, false).map_err(anyhow::Error::msg)?.get_ids().to_vec())
    }

    /// Final-norm hidden state of the last token for each sequence (all the same length), `[b, hidden]`.
    fn last_hidden(&mut self, tokens: &[Vec<u32>]) -> Result<Tensor> {
        let flat: Vec<u32> = tokens.iter().flatten().copied().collect();
        let input = Tensor::from_vec(flat, (tokens.len(), tokens[0].len()), &self.device)?;
        Ok(self.model.forward(&input, 0)?)
    }

    /// Embeddings (raw hidden states) of prompts, in input order. Prompts of equal token length share a batch.
    pub fn embed(&mut self, prompts: &[String]) -> Result<Vec<Vec<f32>>> {
        let tokens = prompts.iter().map(|p| self.tokenize(p)).collect::<Result<Vec<_>>>()?;
        let mut by_len: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, t) in tokens.iter().enumerate() {
            ensure!(!t.is_empty(), "prompt {i} tokenizes to nothing");
            by_len.entry(t.len()).or_default().push(i);
        }
        let mut lengths: Vec<usize> = by_len.keys().copied().collect();
        lengths.sort_unstable();
        let mut out = vec![Vec::new(); prompts.len()];
        for len in lengths {
            for chunk in by_len[&len].chunks(BATCH) {
                let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| tokens[i].clone()).collect();
                let hidden = self.last_hidden(&batch)?.to_vec2::<f32>()?;
                for (&i, h) in chunk.iter().zip(hidden) {
                    out[i] = h;
                }
            }
        }
        Ok(out)
    }

    /// Greedy decoding of `max_tokens` tokens after `prompt`, through the same forward pass as [`Self::embed`].
    pub fn generate(&mut self, prompt: &str, max_tokens: usize) -> Result<String> {
        let mut tokens = self.tokenize(prompt)?;
        let prompt_len = tokens.len();
        let mut input = tokens.clone();
        for _ in 0..max_tokens {
            let pos = tokens.len() - input.len();
            let x = Tensor::new(input.as_slice(), &self.device)?.unsqueeze(0)?;
            let hidden = self.model.forward(&x, pos)?;
            let logits = self.lm_head.forward(&hidden)?;
            let next = logits.argmax(D::Minus1)?.flatten_all()?.to_vec1::<u32>()?[0];
            tokens.push(next);
            input = vec![next];
        }
        self.tokenizer.decode(&tokens[prompt_len..], false).map_err(anyhow::Error::msg)
    }
}

/// SmolLM2's tokenizer rebuilt from the GGUF's own vocabulary and merges: byte-level BPE with digits split.
fn tokenizer_from_gguf(ct: &gguf_file::Content) -> Result<Tokenizer> {
    let tokens = md(ct, "tokenizer.ggml.tokens")?.to_vec().map_err(anyhow::Error::msg)?;
    let merges = md(ct, "tokenizer.ggml.merges")?.to_vec().map_err(anyhow::Error::msg)?;
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| Ok((t.to_string().map_err(anyhow::Error::msg)?.clone(), i as u32)))
        .collect::<Result<_>>()?;
    let merges = merges
        .iter()
        .map(|m| {
            let m = m.to_string().map_err(anyhow::Error::msg)?;
            match m.split_once(' ') {
                Some((a, b)) => Ok((a.to_string(), b.to_string())),
                None => bail!("malformed merge `{m}` in the GGUF tokenizer"),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(anyhow::Error::msg)?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
        Digits::new(true).into(),
        ByteLevel::new(false, true, true).into(),
    ]))));
    tokenizer.with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevel::default())));
    Ok(tokenizer)
}

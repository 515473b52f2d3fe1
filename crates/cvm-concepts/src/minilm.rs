//! all-MiniLM-L6-v2 (sentence encoder) with candle's BERT: mean pooling over the attention mask.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, Tokenizer};

const BATCH: usize = 64;

pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl MiniLm {
    /// Loads `model.safetensors`, `config.json` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let device = Device::Cpu;
        let config: Config = serde_json::from_slice(
            &std::fs::read(dir.join("config.json")).with_context(|| format!("{}/config.json", dir.display()))?,
        )
        .context("config.json is not a BERT config")?;
        let weights = std::fs::read(dir.join("model.safetensors"))
            .with_context(|| format!("{}/model.safetensors", dir.display()))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .context("model.safetensors is not readable")?;
        let model = BertModel::load(vb, &config).context("model.safetensors does not hold a BERT of this config")?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(anyhow::Error::msg)?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        Ok(Self { model, tokenizer, device })
    }

    /// Mean-pooled token states of each text (not normalised).
    pub fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            let enc = self.tokenizer.encode_batch(chunk.to_vec(), true).map_err(anyhow::Error::msg)?;
            let len = enc[0].get_ids().len();
            ensure!(len > 0, "empty encoding");
            let ids: Vec<u32> = enc.iter().flat_map(|e| e.get_ids().to_vec()).collect();
            let mask: Vec<u32> = enc.iter().flat_map(|e| e.get_attention_mask().to_vec()).collect();
            let ids = Tensor::from_vec(ids, (chunk.len(), len), &self.device)?;
            let mask = Tensor::from_vec(mask, (chunk.len(), len), &self.device)?;
            let states = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let pooled = states.broadcast_mul(&m)?.sum(1)?.broadcast_div(&m.sum(1)?)?;
            out.extend(pooled.to_vec2::<f32>()?);
        }
        Ok(out)
    }
}

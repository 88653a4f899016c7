//! The end every branch shares: pooled features → fully connected embedding (after ReLU: what
//! the fusion head consumes) → dropout → two heads, perceived gender (male, female) and emotion.

use candle_core::{Result as CResult, Tensor};
use candle_nn::{Linear, ModuleT, VarBuilder};

use super::blocks::SeededDropout;

/// What a branch network produces for a batch.
#[derive(Debug, Clone)]
pub struct BranchOutput {
    /// `(B, embedding)` after ReLU: the branch's embedding.
    pub embedding: Tensor,
    /// `(B, 2)` gender logits (male, female).
    pub gender_logits: Tensor,
    /// `(B, n_emotions)` emotion logits.
    pub emotion_logits: Tensor,
}

/// Embedding, dropout and the two heads; weights `embed.*`, `gender_head.*` and
/// `emotion_head.*` under the branch network's own prefix.
#[derive(Debug, Clone)]
pub(crate) struct TwoHeads {
    embed: Linear,
    dropout: SeededDropout,
    gender_head: Linear,
    emotion_head: Linear,
}

impl TwoHeads {
    /// Heads over `in_dim` pooled features with an `embedding`-wide embedding.
    pub(crate) fn new(
        in_dim: usize,
        embedding: usize,
        dropout: f32,
        n_emotions: usize,
        vb: &VarBuilder,
    ) -> CResult<Self> {
        Ok(Self {
            embed: candle_nn::linear(in_dim, embedding, vb.pp("embed"))?,
            dropout: SeededDropout::new(dropout, 0),
            gender_head: candle_nn::linear(embedding, 2, vb.pp("gender_head"))?,
            emotion_head: candle_nn::linear(embedding, n_emotions, vb.pp("emotion_head"))?,
        })
    }

    /// Restarts the dropout masks from `seed`.
    pub(crate) fn reseed_dropout(&self, seed: u64) {
        self.dropout.reseed(seed);
    }

    /// The dropout's generator state, and setting it back (training checkpoints).
    pub(crate) fn dropout_state(&self) -> u64 {
        self.dropout.rng_state()
    }

    pub(crate) fn set_dropout_state(&self, state: u64) {
        self.dropout.set_rng_state(state);
    }

    /// `pooled` `(B, in_dim)` to the embedding and both heads' logits.
    pub(crate) fn forward_t(&self, pooled: &Tensor, train: bool) -> CResult<BranchOutput> {
        let embedding = pooled.apply(&self.embed)?.relu()?;
        let dropped = self.dropout.forward_t(&embedding, train)?;
        Ok(BranchOutput {
            gender_logits: dropped.apply(&self.gender_head)?,
            emotion_logits: dropped.apply(&self.emotion_head)?,
            embedding,
        })
    }
}

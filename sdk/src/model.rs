//! The reference GPT, in the spirit of the speedrun's baseline: token embedding,
//! rotary position encoding, RMSNorm (without learned scale), causal self-attention
//! through burn's fused attention op with QK-norm, a ReLU² MLP and an untied output
//! head. Generic over the backend so the same code trains on Flex and on CUDA.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::backend::Backend;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{FloatDType, Int, Tensor};

use speedcert_track::ModelSpec;

#[derive(Config, Debug)]
pub struct GptConfig {
    pub vocab_size: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub d_model: usize,
    pub seq_len: usize,
    #[config(default = 4)]
    pub mlp_ratio: usize,
    #[config(default = 10000.0)]
    pub rope_theta: f64,
}

impl From<&ModelSpec> for GptConfig {
    fn from(m: &ModelSpec) -> Self {
        GptConfig::new(m.vocab_size, m.n_layer, m.n_head, m.d_model, m.seq_len)
            .with_mlp_ratio(m.mlp_ratio)
            .with_rope_theta(m.rope_theta)
    }
}

// Track validation owns the shape rule; the model and the bench examples ask it.
pub use speedcert_track::head_shape_problem;

impl GptConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> Gpt<B> {
        let d = self.d_model;
        let head_dim = d / self.n_head;
        // Residual-branch outputs and the head start at zero (as in modded-nanogpt), so
        // every block starts as the identity and the first loss is ln(vocab).
        let linear = |i: usize, o: usize| {
            LinearConfig::new(i, o)
                .with_bias(false)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: (i as f64).powf(-0.5),
                })
                .init(device)
        };
        let zero = |i: usize, o: usize| {
            LinearConfig::new(i, o)
                .with_bias(false)
                .with_initializer(Initializer::Zeros)
                .init(device)
        };
        let blocks = (0..self.n_layer)
            .map(|_| Block {
                qkv: linear(d, 3 * d),
                attn_out: zero(d, d),
                mlp_in: linear(d, self.mlp_ratio * d),
                mlp_out: zero(self.mlp_ratio * d, d),
                n_head: self.n_head,
            })
            .collect();
        Gpt {
            embed: EmbeddingConfig::new(self.vocab_size, d).init(device),
            blocks,
            head: zero(d, self.vocab_size),
            rope: Rope::new(self.seq_len, head_dim, self.rope_theta, device),
        }
    }

    /// Parameters, for FLOP accounting (6 N per token plus attention).
    pub fn num_params(&self) -> usize {
        let d = self.d_model;
        2 * self.vocab_size * d + self.n_layer * (4 * d * d + 2 * self.mlp_ratio * d * d)
    }

    /// Training FLOPs per token: 6 N for the matmuls plus 6 L T d for attention
    /// (forward 2 for QKᵀ and 2 for AV over the causal half, times 3 for backward).
    pub fn train_flops_per_token(&self) -> f64 {
        6.0 * self.num_params() as f64 + 6.0 * (self.n_layer * self.seq_len * self.d_model) as f64
    }
}

#[derive(Module, Debug)]
pub struct Gpt<B: Backend> {
    pub embed: Embedding<B>,
    pub blocks: Vec<Block<B>>,
    pub head: Linear<B>,
    pub rope: Rope<B>,
}

#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    pub qkv: Linear<B>,
    pub attn_out: Linear<B>,
    pub mlp_in: Linear<B>,
    pub mlp_out: Linear<B>,
    pub n_head: usize,
}

/// Rotary tables for every position up to `seq_len`; constants, not parameters.
///
/// Rotating the pairs (x_i, x_{i+half}) is `x * cos + (x @ swap) * sin` with both tables a
/// full head wide and `swap` the fixed matrix that maps `[x1, x2]` to `[x2, -x1]`: no
/// slices of the last dimension, so every op and its gradient works on contiguous
/// tensors (element-wise ops on slices walk strided views on the CPU backend;
/// bench/results/cpu-throughput-2026-12-01.md). Multiplying by 0 and ±1 is exact, so this
/// is the half-width form's arithmetic.
#[derive(Module, Debug)]
pub struct Rope<B: Backend> {
    cos: Tensor<B, 2>,
    sin: Tensor<B, 2>,
    swap: Tensor<B, 2>,
}

impl<B: Backend> Rope<B> {
    fn new(seq_len: usize, head_dim: usize, theta: f64, device: &B::Device) -> Self {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(seq_len * head_dim);
        let mut sin = Vec::with_capacity(seq_len * head_dim);
        for pos in 0..seq_len {
            let angles: Vec<f64> = (0..half)
                .map(|i| pos as f64 * theta.powf(-(2.0 * i as f64) / head_dim as f64))
                .collect();
            for _ in 0..2 {
                cos.extend(angles.iter().map(|a| a.cos() as f32));
                sin.extend(angles.iter().map(|a| a.sin() as f32));
            }
        }
        let mut swap = vec![0f32; head_dim * head_dim];
        for j in 0..half {
            swap[(j + half) * head_dim + j] = 1.0; // out[j] = x2[j]
            swap[j * head_dim + j + half] = -1.0; // out[j + half] = -x1[j]
        }
        let table = |v: Vec<f32>, rows: usize| {
            Tensor::<B, 1>::from_floats(v.as_slice(), device).reshape([rows, head_dim])
        };
        Self {
            cos: table(cos, seq_len),
            sin: table(sin, seq_len),
            swap: table(swap, head_dim),
        }
    }

    /// Rotates `x: [batch * seq * heads, head_dim]` (rows in `[batch, seq, heads]` order,
    /// as a `[batch * seq, d]` product's rows split into heads) by position and returns it
    /// as `[batch, seq, heads, head_dim]`.
    ///
    /// Each sequence's `[seq, heads, head_dim]` block is one row of `[batch, seq * d]`, so
    /// the tables, repeated over the heads, are one `[1, seq * d]` row broadcast down the
    /// rows: a pattern the CPU backend multiplies with SIMD, forward and backward, where a
    /// table over a strided view walks it element by element
    /// (bench/results/cpu-throughput-2026-12-03.md).
    fn apply(&self, x: Tensor<B, 2>, [b, t, h]: [usize; 3]) -> Tensor<B, 4> {
        let hd = x.dims()[1];
        let row = |x: Tensor<B, 2>| x.reshape([b, t * h * hd]);
        let table = |x: &Tensor<B, 2>| {
            x.clone()
                .narrow(0, 0, t)
                .reshape([t, 1, hd])
                .repeat_dim(1, h)
                .reshape([1, t * h * hd])
        };
        let swapped = row(x.clone().matmul(self.swap.clone()));
        (row(x) * table(&self.cos) + swapped * table(&self.sin)).reshape([b, t, h, hd])
    }
}

/// RMSNorm without a learned scale, over the last dimension.
pub fn rms_norm<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let ms = x.clone().powi_scalar(2).mean_dim(D - 1);
    x * (ms + 1e-6).sqrt().recip()
}

impl<B: Backend> Block<B> {
    /// `x: [batch * seq, d]`: every linear layer multiplies one 2-D matrix, so the backend
    /// runs one large threaded product and the weight gradient is one product too (a
    /// `[batch, seq, d]` input is a batched product that packs the weight once per sequence
    /// and sums a per-sequence gradient; bench/results/cpu-throughput-2026-12-01.md).
    fn forward(&self, x: Tensor<B, 2>, [b, t]: [usize; 2], rope: &Rope<B>) -> Tensor<B, 2> {
        let [_, d] = x.dims();
        let h = self.n_head;
        let hd = d / h;
        let normed = rms_norm(x.clone());
        let weight = self.qkv.weight.val();
        // q, k and v are products with the fused weight's column blocks (q, k, v in that
        // order, heads within each): each comes out a contiguous `[batch * seq, d]` whose
        // rows split into heads without a copy. Slicing one `[batch * seq, 3 d]` product
        // instead gives each slice's gradient a zero tensor three times its size.
        let part = |i: usize| normed.clone().matmul(weight.clone().narrow(1, i * d, d));
        // QK-norm keeps attention logits bounded, which lets the speedrun use high LRs.
        // Attention reads `[b, h, t, hd]` views of the `[b, t, h, hd]` tensors: its
        // products take strided operands, so nothing is copied into head-major order.
        let heads = |x: Tensor<B, 2>| rope.apply(rms_norm(x.reshape([b * t * h, hd])), [b, t, h]);
        let q = heads(part(0)).swap_dims(1, 2);
        let k = heads(part(1)).swap_dims(1, 2);
        let v = part(2).reshape([b, t, h, hd]).swap_dims(1, 2);
        let y = attention(
            q,
            k,
            v,
            None,
            None,
            AttentionModuleOptions {
                is_causal: true,
                ..Default::default()
            },
        );
        let y = y.swap_dims(1, 2).reshape([b * t, d]);
        let x = x + self.attn_out.forward(y);
        let m = relu(self.mlp_in.forward(rms_norm(x.clone()))).powi_scalar(2);
        x + self.mlp_out.forward(m)
    }
}

impl<B: Backend> Gpt<B> {
    /// Next-token logits `[batch, seq, vocab]` for `tokens: [batch, seq]`.
    pub fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [b, t] = tokens.dims();
        let d = self.head.weight.dims()[0];
        let mut x = rms_norm(self.embed.forward(tokens)).reshape([b * t, d]);
        for block in &self.blocks {
            x = block.forward(x, [b, t], &self.rope);
        }
        let logits = self.head.forward(rms_norm(x));
        let v = logits.dims()[1];
        logits.reshape([b, t, v])
    }

    /// Mean next-token cross-entropy (nats) of `tokens` predicting `targets`.
    pub fn loss(&self, tokens: Tensor<B, 2, Int>, targets: Tensor<B, 2, Int>) -> Tensor<B, 1> {
        cross_entropy(self.forward(tokens), targets)
    }
}

/// Mean cross-entropy in nats of `logits: [batch, seq, vocab]` against `targets: [batch, seq]`.
/// The harness uses this same function for every submission's validation loss.
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 3>, targets: Tensor<B, 2, Int>) -> Tensor<B, 1> {
    let [b, t, v] = logits.dims();
    // Softmax and the mean in f32 even when the model computes in bf16 (a no-op in f32).
    let logp = log_softmax(logits.reshape([b * t, v]).cast(FloatDType::F32), 1);
    let picked = logp.gather(1, targets.reshape([b * t, 1]));
    picked.mean().neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    type B = Flex;

    fn tiny() -> GptConfig {
        GptConfig::new(32, 2, 2, 16, 12)
    }

    fn randomize(model: Gpt<B>) -> Gpt<B> {
        // Zero-initialised heads would make every logit equal; perturb them for the test.
        let mut m = model;
        m.head.weight = m
            .head
            .weight
            .map(|w| w.random_like(burn::tensor::Distribution::Normal(0.0, 0.5)));
        for blk in &mut m.blocks {
            blk.attn_out.weight = blk
                .attn_out
                .weight
                .clone()
                .map(|w| w.random_like(burn::tensor::Distribution::Normal(0.0, 0.5)));
        }
        m
    }

    /// The matrix form of the rotary encoding against the textbook one: pairs
    /// (x_i, x_{i+half}) rotated by pos * theta^(-2i/hd), row by row.
    #[test]
    fn rotary_rotates_each_pair_by_its_position_angle() {
        let device = Default::default();
        let (b, h, t, hd) = (2, 3, 5, 8);
        let rope = Rope::<B>::new(t, hd, 10000.0, &device);
        let _draws = crate::reference::seeded_draws();
        let x = Tensor::<B, 2>::random(
            [b * t * h, hd],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let xs: Vec<f32> = x.clone().into_data().to_vec().unwrap();
        let y = rope.apply(x, [b, t, h]);
        assert_eq!(y.dims(), [b, t, h, hd]);
        let ys: Vec<f32> = y.into_data().to_vec().unwrap();
        let half = hd / 2;
        for row in 0..b * t * h {
            let pos = (row / h) % t;
            for i in 0..half {
                let angle = pos as f64 * 10000f64.powf(-(2.0 * i as f64) / hd as f64);
                let (c, s) = (angle.cos() as f32, angle.sin() as f32);
                let (x1, x2) = (xs[row * hd + i], xs[row * hd + i + half]);
                let (y1, y2) = (ys[row * hd + i], ys[row * hd + i + half]);
                assert!(
                    (y1 - (x1 * c + x2 * s)).abs() < 1e-6,
                    "row {row} pair {i}: {y1}"
                );
                assert!(
                    (y2 - (x2 * c - x1 * s)).abs() < 1e-6,
                    "row {row} pair {i}: {y2}"
                );
            }
        }
    }

    /// burn-autodiff's attention is one node with a hand-written backward
    /// (vendor/burn-autodiff/src/ops/attention.rs): its output and the gradients of query,
    /// key and value must be those of softmax(QKᵀ/√d) V written op by op and differentiated
    /// by autodiff, with and without the causal mask. The output is read through
    /// `swap_dims(1, 2)`, as the model reads it, so the gradient arriving at the node is a
    /// strided view.
    #[test]
    fn attention_node_matches_the_op_by_op_form() {
        use burn::backend::Autodiff;
        use burn::tensor::Distribution::Normal;
        use burn::tensor::activation::softmax;
        type A = Autodiff<Flex>;
        let device = Default::default();
        let (b, h, t, hd) = (8, 2, 16, 16);
        let input = || Tensor::<A, 4>::random([b, h, t, hd], Normal(0.0, 1.0), &device);
        let (q, k, v, w) = {
            let _draws = crate::reference::seeded_draws();
            (input(), input(), input(), input())
        };
        for is_causal in [true, false] {
            let leaves = || {
                [&q, &k, &v].map(|x| Tensor::<A, 4>::from_inner(x.clone().inner()).require_grad())
            };
            let [q1, k1, v1] = leaves();
            let options = AttentionModuleOptions {
                is_causal,
                ..Default::default()
            };
            let fused = attention(q1.clone(), k1.clone(), v1.clone(), None, None, options);
            let [q2, k2, v2] = leaves();
            let scores = q2.clone().matmul(k2.clone().swap_dims(2, 3)) / (hd as f64).sqrt();
            let scores = if is_causal {
                let future = Tensor::<A, 1, Int>::arange(0..t as i64, &device)
                    .reshape([1, t])
                    .greater(Tensor::<A, 1, Int>::arange(0..t as i64, &device).reshape([t, 1]));
                scores.mask_fill(
                    future.unsqueeze::<4>().expand([b, h, t, t]),
                    f32::NEG_INFINITY,
                )
            } else {
                scores
            };
            let plain = softmax(scores, 3).matmul(v2.clone());
            let close = |a: Tensor<Flex, 4>, b: Tensor<Flex, 4>, what: &str| {
                let diff: f32 = (a - b).abs().max().into_scalar();
                assert!(diff < 1e-5, "{what} (causal {is_causal}) differs by {diff}");
            };
            close(fused.clone().inner(), plain.clone().inner(), "output");
            let g1 = (fused.swap_dims(1, 2) * w.clone().swap_dims(1, 2))
                .sum()
                .backward();
            let g2 = (plain.swap_dims(1, 2) * w.clone().swap_dims(1, 2))
                .sum()
                .backward();
            for (name, a, b) in [("query", &q1, &q2), ("key", &k1, &k2), ("value", &v1, &v2)] {
                let (ga, gb) = (a.grad(&g1).expect(name), b.grad(&g2).expect(name));
                close(ga, gb, name);
            }
        }
    }

    #[test]
    fn initial_loss_is_ln_vocab() {
        let device = Default::default();
        let model = {
            let _draws = crate::reference::seeded_draws();
            tiny().init::<B>(&device)
        };
        let x = Tensor::<B, 2, Int>::from_data(
            TensorData::new((0..24).map(|i| i % 32).collect::<Vec<i64>>(), [2, 12]),
            &device,
        );
        let loss: f32 = model.loss(x.clone(), x).into_scalar();
        assert!((loss - (32f32).ln()).abs() < 1e-4, "{loss}");
    }

    #[test]
    fn perturbing_a_later_token_leaves_earlier_logits_unchanged() {
        let device = Default::default();
        let model = {
            let _draws = crate::reference::seeded_draws();
            B::seed(&device, 3);
            randomize(tiny().init::<B>(&device))
        };
        let base: Vec<i64> = (0..12).map(|i| (i * 7 + 3) % 32).collect();
        for t in [0usize, 5, 11] {
            let mut perturbed = base.clone();
            perturbed[t] = (perturbed[t] + 1) % 32;
            let a = model.forward(Tensor::from_data(
                TensorData::new(base.clone(), [1, 12]),
                &device,
            ));
            let b = model.forward(Tensor::from_data(
                TensorData::new(perturbed, [1, 12]),
                &device,
            ));
            let diff: Vec<f32> = (a - b).abs().max_dim(2).into_data().to_vec().unwrap();
            for (pos, d) in diff.iter().enumerate() {
                if pos < t {
                    assert!(
                        *d < 1e-5,
                        "logit at {pos} moved by {d} when token {t} changed"
                    );
                } else if pos == t {
                    assert!(*d > 1e-4, "logit at {pos} did not react to its own token");
                }
            }
        }
    }
}

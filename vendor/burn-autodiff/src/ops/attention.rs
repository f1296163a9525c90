//! Scaled dot-product attention as one autodiff node (speedcert patch, vendor/README.md).
//!
//! Upstream 0.21.0 differentiates `attention_fallback` op by op: about a dozen tracked ops
//! on `[batch, heads, seq_q, seq_k]` scores, each saving its inputs and each with its own
//! backward (the max's gather, the division's two branches, broadcast reductions). Here the
//! forward runs the same inner-backend ops in the same order, untracked, and keeps the
//! softmax probabilities `P`; the backward is the analytic gradient:
//!
//! - `dV = Pᵀ dO`
//! - `dP = dO Vᵀ`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`
//! - `dQ = scale · dS K`, `dK = scale · dSᵀ Q`
//!
//! Only the form without a bool mask, bias or softcap takes this node; the others still
//! take the fallback.

use crate::checkpoint::base::Checkpointer;
use crate::grads::Gradients;
use crate::graph::NodeId;
use crate::ops::{Backward, Ops};

use burn_backend::ops::AttentionModuleOptions;
use burn_backend::tensor::{BoolTensor, FloatTensor};
use burn_backend::{Backend, TensorMetadata, get_device_settings};
use burn_std::Shape;

/// Whether `attention` can take the single-node path.
pub(crate) fn has_node(has_mask: bool, has_bias: bool, options: &AttentionModuleOptions) -> bool {
    !has_mask && !has_bias && options.softcap.is_none()
}

/// The scale the fallback applies to `QKᵀ`.
pub(crate) fn scale<B: Backend>(query: &FloatTensor<B>, options: &AttentionModuleOptions) -> f64 {
    let head_dim = query.shape().dims::<4>()[3];
    options
        .scale
        .unwrap_or_else(|| 1.0 / (head_dim as f64).sqrt())
}

/// `softmax(QKᵀ · scale)` with the causal mask when asked: the fallback's ops, in its order,
/// so the forward gives the same numbers as upstream's.
pub(crate) fn probabilities<B: Backend>(
    query: FloatTensor<B>,
    key: FloatTensor<B>,
    scale: f64,
    is_causal: bool,
) -> FloatTensor<B> {
    let qk = B::float_matmul(query, B::float_transpose(key));
    let scores = B::float_mul_scalar(qk, scale.into());
    let scores = if is_causal {
        let mask = causal_mask::<B>(&scores);
        B::float_mask_fill(scores, mask, f32::NEG_INFINITY.into())
    } else {
        scores
    };
    // NaN-safe softmax, as the fallback: a fully masked row gives zeros, not NaN.
    let finfo = scores.dtype().finfo().expect("float tensor");
    let max = B::float_clamp_min(B::float_max_dim(scores.clone(), 3), finfo.min.into());
    let numerator = B::float_exp(B::float_sub(scores, max));
    let sum = B::float_clamp_min(
        B::float_sum_dim(numerator.clone(), 3),
        finfo.min_positive.into(),
    );
    B::float_div(numerator, sum)
}

/// `true` above the causal diagonal (aligned at the bottom-right corner, as the fallback).
fn causal_mask<B: Backend>(scores: &FloatTensor<B>) -> BoolTensor<B> {
    let device = B::float_device(scores);
    let [batch, heads, seq_q, seq_k] = scores.shape().dims::<4>();
    let settings = get_device_settings::<B>(&device);
    let offset = seq_k as i64 - seq_q as i64;
    let rows = B::int_reshape(
        B::int_arange(0..seq_q as i64, &device, settings.int_dtype),
        Shape::new([seq_q, 1]),
    );
    let cols = B::int_reshape(
        B::int_arange(0..seq_k as i64, &device, settings.int_dtype),
        Shape::new([1, seq_k]),
    );
    let mask = B::int_lower(
        B::int_add_scalar(rows, offset.into()),
        cols,
        settings.bool_dtype,
    );
    let mask = B::bool_reshape(mask, Shape::new([1, 1, seq_q, seq_k]));
    B::bool_expand(mask, Shape::new([batch, heads, seq_q, seq_k]))
}

/// The attention node: parents query, key, value.
#[derive(Debug)]
pub(crate) struct Attention;

/// Query, key and value, each checkpointed only when a gradient needs it (the query for the
/// key's, the key for the query's, the value for both), the probabilities and the scale.
pub(crate) type AttentionState<B> = (
    Option<NodeId>,
    Option<NodeId>,
    Option<NodeId>,
    FloatTensor<B>,
    f64,
);

impl<B: Backend> Backward<B, 3> for Attention {
    type State = AttentionState<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_q, node_k, node_v] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (query, key, value, probs, scale) = ops.state;

        if let Some(node) = node_v {
            let grad_v = B::float_matmul(B::float_transpose(probs.clone()), grad.clone());
            grads.register::<B>(node.id, grad_v);
        }
        if node_q.is_none() && node_k.is_none() {
            return;
        }
        let value: FloatTensor<B> = checkpointer.retrieve_node_output(value.unwrap());
        let grad_p = B::float_matmul(grad, B::float_transpose(value));
        let row = B::float_sum_dim(B::float_mul(grad_p.clone(), probs.clone()), 3);
        let grad_s =
            B::float_mul_scalar(B::float_mul(probs, B::float_sub(grad_p, row)), scale.into());
        if let Some(node) = node_q {
            let key: FloatTensor<B> = checkpointer.retrieve_node_output(key.unwrap());
            grads.register::<B>(node.id, B::float_matmul(grad_s.clone(), key));
        }
        if let Some(node) = node_k {
            let query: FloatTensor<B> = checkpointer.retrieve_node_output(query.unwrap());
            grads.register::<B>(node.id, B::float_matmul(B::float_transpose(grad_s), query));
        }
    }
}

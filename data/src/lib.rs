//! Token data for speedcert: the modded-nanogpt shard format, the synthetic corpus,
//! downloads of pinned shards and GPT-2 preparation of local text. Knows nothing of
//! training: the evaluator turns these tokens into tensors.

pub mod fetch;
pub mod gpt2;
pub mod lock;
pub mod prepare;
pub mod shard;
pub mod source;
pub mod synthetic;

//! A quick check before certifying: the submission trains on the CPU and its loss falls.
//! It uses the SDK's tiny test track, not a real one; speedcert's harness is what times
//! and judges a certification.

use speedcert_sdk::testing::{CpuBackend, train_losses};

#[test]
fn the_loss_falls_on_the_tiny_test_track() {
    let losses = train_losses::<CpuBackend, {{crate}}::Run<CpuBackend>>(30);
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last < first * 0.9, "loss {first} -> {last}");
}

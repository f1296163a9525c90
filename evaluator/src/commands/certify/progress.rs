//! What a person watching `certify` sees: one bar per run and a line per finished run.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::certify::SlotObserver;
use crate::certify::plan::Slot;
use crate::harness::{RunEvent, RunRecord, RunStatus};

pub(super) fn finished_line(slot: &Slot, record: &RunRecord) -> String {
    match record.status {
        RunStatus::Ok => format!(
            "run-{:03} {:<9} {:>9.3} s  val loss {:.4}",
            slot.index,
            slot.role.as_str(),
            record.train_time_ms / 1e3,
            record.final_val_loss.unwrap_or(f64::NAN)
        ),
        RunStatus::Failed => format!(
            "run-{:03} {:<9} FAILED: {}",
            slot.index,
            slot.role.as_str(),
            record.failure.as_deref().unwrap_or("unknown")
        ),
    }
}

/// Runs done and time left, plus the current run's step and loss (nightly shows it too).
pub(crate) struct Progress {
    multi: MultiProgress,
    total: ProgressBar,
    current: ProgressBar,
}

impl Progress {
    pub(crate) fn new(slots: usize, done: usize, hidden: bool) -> Self {
        let multi = MultiProgress::new();
        if hidden {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let total = multi.add(ProgressBar::new(slots as u64));
        total.set_style(
            ProgressStyle::with_template(
                "runs {pos}/{len} {bar:30} elapsed {elapsed} · left ~{eta}",
            )
            .expect("valid template"),
        );
        total.set_position(done as u64);
        let current = multi.add(ProgressBar::new(0));
        current.set_style(
            ProgressStyle::with_template("  {prefix} step {pos}/{len} {msg}")
                .expect("valid template"),
        );
        Self {
            multi,
            total,
            current,
        }
    }

    pub(crate) fn done(&self) {
        self.current.finish_and_clear();
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl SlotObserver for Progress {
    fn started(&self, slot: &Slot) {
        self.current.set_prefix(format!(
            "run-{:03} {:<9} {}",
            slot.index,
            slot.role.as_str(),
            slot.submission
        ));
        self.current.set_position(0);
        self.current.set_message("initialising");
    }

    fn event(&self, _slot: &Slot, event: &RunEvent) {
        match event {
            RunEvent::Started { planned_steps } => {
                self.current.set_length(planned_steps.unwrap_or(0) as u64)
            }
            RunEvent::Step {
                step,
                train_loss,
                train_time_ms,
            } => {
                self.current.set_position(*step as u64 + 1);
                self.current.set_message(format!(
                    "loss {} · {:.1} s",
                    train_loss.map(|l| format!("{l:.4}")).unwrap_or("-".into()),
                    train_time_ms / 1e3
                ));
            }
            _ => {}
        }
    }

    fn finished(&self, slot: &Slot, record: &RunRecord) {
        self.total.inc(1);
        let _ = self.multi.println(finished_line(slot, record));
    }
}

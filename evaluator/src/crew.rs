//! The follower ranks of a data-parallel run. The harness trains rank 0 on its own thread
//! (it owns the clock, the validation and the probes) and starts one thread per other
//! rank, each with its own device, its own replica of the submission and its slice of
//! the stream. Rank 0 orders every step; a step's time ends when the last rank has
//! finished it and synced its device.
//!
//! burn's collective (`burn::collective`) averages the gradients; it waits for every
//! rank, so a rank that fails would leave the others waiting forever. Once any rank fails
//! the crew is *aborted*: a watchdog resets the collective until every follower has
//! stopped, which fails every pending and later all-reduce.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Duration;

use burn::collective::{CollectiveConfig, PeerId, finish_collective, register, reset_collective};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};

use crate::causality::ModelProbe;
use crate::data::{Dealer, TrainStream};
use crate::submission::{InitContext, Ranks, Submission, TrackView};

/// Data-parallel runs share burn's process-wide collective server: one at a time.
static COLLECTIVE: Mutex<()> = Mutex::new(());

enum Order {
    Step(usize),
    Logits(TensorData),
}

enum Reply {
    Ready,
    /// `finished` after the step.
    Stepped(bool),
    Logits(Vec<f32>),
    Failed(String),
}

/// What every rank is started with.
pub struct Muster<'a, B: Backend> {
    pub view: &'a TrackView,
    pub seed: u64,
    pub run_index: usize,
    pub world: usize,
    pub dealer: Arc<Dealer>,
    /// Rank 0's device; rank `r` trains on the device of index `r` of its kind.
    pub device: &'a B::Device,
}

/// The device of index `rank` of `device`'s kind (every rank shares the one CPU device).
pub fn rank_device<B: Backend>(device: &B::Device, rank: usize) -> B::Device {
    use burn::tensor::backend::{Device, DeviceId};
    let id = device.to_id();
    B::Device::from_id(DeviceId::new(id.type_id, rank as u16))
}

/// Joins burn's collective as `rank` of `world`; returns when every rank has joined.
pub fn join<B: AutodiffBackend>(
    rank: usize,
    device: &B::Device,
    world: usize,
) -> Result<(), String> {
    register::<B::InnerBackend>(
        Ranks { rank, world }.peer(),
        device.clone(),
        CollectiveConfig::default().with_num_devices(world),
    )
    .map_err(|e| format!("rank {rank} could not join the collective of {world} ranks: {e:?}"))
}

/// The follower ranks; empty for a run on one rank, where every call is free.
pub struct Crew<'scope> {
    orders: Vec<Sender<Order>>,
    replies: Option<Receiver<(usize, Reply)>>,
    handles: Vec<ScopedJoinHandle<'scope, ()>>,
    aborted: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
    _one_at_a_time: Option<std::sync::MutexGuard<'static, ()>>,
}

impl<'scope> Crew<'scope> {
    /// No followers: a run on one rank.
    pub fn none() -> Self {
        Self {
            orders: Vec::new(),
            replies: None,
            handles: Vec::new(),
            aborted: Arc::new(AtomicBool::new(false)),
            stopped: Arc::new(AtomicBool::new(false)),
            _one_at_a_time: None,
        }
    }

    /// Starts ranks `1..world`, which build their replicas alongside rank 0's (a
    /// submission makes them equal with `ctx.ranks.broadcast`), and a watchdog for aborts.
    pub fn start<'env, B: AutodiffBackend, S: Submission<B>>(
        scope: &'scope Scope<'scope, 'env>,
        muster: &'env Muster<'env, B>,
    ) -> Self {
        let guard = COLLECTIVE.lock().unwrap_or_else(|e| e.into_inner());
        let (reply_tx, replies) = channel();
        let aborted = Arc::new(AtomicBool::new(false));
        let stopped = Arc::new(AtomicBool::new(false));
        let mut orders = Vec::new();
        let mut handles = Vec::new();
        for rank in 1..muster.world {
            let (tx, rx) = channel();
            orders.push(tx);
            let reply = reply_tx.clone();
            let aborted = aborted.clone();
            handles.push(scope.spawn(move || {
                if let Err(why) = follow::<B, S>(rank, muster, &rx, &reply) {
                    aborted.store(true, Ordering::SeqCst);
                    let _ = reply.send((rank, Reply::Failed(why)));
                }
                let _ = finish_collective::<B::InnerBackend>(PeerId::from(rank));
            }));
        }
        {
            let (aborted, stopped) = (aborted.clone(), stopped.clone());
            scope.spawn(move || {
                while !stopped.load(Ordering::SeqCst) {
                    if aborted.load(Ordering::SeqCst) {
                        reset_collective::<B::InnerBackend>();
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        Self {
            orders,
            replies: Some(replies),
            handles,
            aborted,
            stopped,
            _one_at_a_time: Some(guard),
        }
    }

    /// Whether there are no followers (a run on one rank).
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Stops every follower (they stop when their orders end; an abort unblocks one
    /// waiting in an all-reduce), then the watchdog.
    fn stop(&mut self, abort: bool) {
        if abort {
            self.aborted.store(true, Ordering::SeqCst);
        }
        self.orders.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Ends the run for every rank: on `Err`, aborts first so that no rank stays blocked.
    /// A follower's failure is the reason given when rank 0 failed only because of it.
    pub fn finish(mut self, result: Result<(), String>) -> Result<(), String> {
        self.stop(result.is_err());
        let first_failure = self.replies.take().and_then(|rx| {
            rx.try_iter().find_map(|(rank, r)| match r {
                Reply::Failed(why) => Some(format!("rank {rank}: {why}")),
                _ => None,
            })
        });
        match (result, first_failure) {
            (Ok(()), None) => Ok(()),
            (Ok(()), Some(why)) => Err(why),
            (Err(own), None) => Err(own),
            (Err(own), Some(why)) => Err(format!("{why} (rank 0: {own})")),
        }
    }

    fn collect(&self, what: &str) -> Result<Vec<Reply>, String> {
        let Some(rx) = &self.replies else {
            return Ok(Vec::new());
        };
        let mut got: Vec<Option<Reply>> = (0..self.orders.len()).map(|_| None).collect();
        while got.iter().any(Option::is_none) {
            let (rank, reply) = rx
                .recv()
                .map_err(|_| format!("the follower ranks stopped during {what}"))?;
            if let Reply::Failed(why) = reply {
                self.aborted.store(true, Ordering::SeqCst);
                return Err(format!("rank {rank}: {why}"));
            }
            got[rank - 1] = Some(reply);
        }
        Ok(got.into_iter().flatten().collect())
    }

    fn order(&self, order: impl Fn() -> Order) -> Result<(), String> {
        for tx in &self.orders {
            tx.send(order())
                .map_err(|_| "a follower rank stopped".to_owned())?;
        }
        Ok(())
    }

    /// Waits until every follower has built its replica.
    pub fn ready(&self) -> Result<(), String> {
        self.collect("init").map(|_| ())
    }

    /// Starts `step` on every follower.
    pub fn begin_step(&self, step: usize) -> Result<(), String> {
        self.order(|| Order::Step(step))
    }

    /// Waits for every follower to finish the step; `Err` when one says it is finished
    /// and rank 0 does not, or the other way round.
    pub fn end_step(&self, step: usize, done: bool) -> Result<(), String> {
        for (i, reply) in self.collect("a step")?.into_iter().enumerate() {
            if let Reply::Stepped(theirs) = reply
                && theirs != done
            {
                return Err(format!(
                    "after step {step}, rank {} says finished = {theirs} and rank 0 {done}: every rank must follow the same schedule",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    /// Holds every follower's replica to rank 0's on `probe`'s window.
    pub fn agree<B: AutodiffBackend>(
        &self,
        probe: &ModelProbe<B>,
        when: &str,
    ) -> Result<(), String> {
        if self.orders.is_empty() {
            return Ok(());
        }
        let tokens = probe.tokens();
        self.order(|| Order::Logits(tokens.clone()))?;
        for (i, reply) in self.collect("the replica check")?.into_iter().enumerate() {
            if let Reply::Logits(logits) = reply {
                probe.agrees(&logits, i + 1, when)?;
            }
        }
        Ok(())
    }
}

impl Drop for Crew<'_> {
    /// Stops the followers and the watchdog also when rank 0 unwinds without
    /// [`Crew::finish`], so that their scope can end (a no-op after `finish`).
    fn drop(&mut self) {
        if !self.stopped.load(Ordering::SeqCst) {
            let abort = !self.handles.is_empty();
            self.stop(abort);
        }
    }
}

/// One follower rank: joins, builds its replica, then serves rank 0's orders until they
/// stop.
fn follow<B: AutodiffBackend, S: Submission<B>>(
    rank: usize,
    m: &Muster<'_, B>,
    orders: &Receiver<Order>,
    reply: &Sender<(usize, Reply)>,
) -> Result<(), String> {
    let device = rank_device::<B>(m.device, rank);
    join::<B>(rank, &device, m.world)?;
    let ctx = InitContext {
        track: m.view,
        device: &device,
        seed: m.seed,
        run_index: m.run_index,
        ranks: Ranks {
            rank,
            world: m.world,
        },
    };
    let mut sub = crate::harness::guarded("init", || S::init(&ctx))?
        .map_err(|e| format!("init failed: {e}"))?;
    crate::harness::sync::<B>(&device)?;
    let _ = reply.send((rank, Reply::Ready));
    let mut stream = TrainStream::<B>::rank(m.dealer.clone(), rank, device.clone());
    while let Ok(order) = orders.recv() {
        let answer = match order {
            Order::Step(step) => {
                crate::harness::guarded("train_step", || sub.train_step(&mut stream, step))?
                    .map_err(|e| format!("train_step {step} failed: {e}"))?;
                let done = crate::harness::guarded("finished", || sub.finished(step + 1))?;
                crate::harness::sync::<B>(&device)?;
                Reply::Stepped(done)
            }
            Order::Logits(tokens) => {
                let tokens = Tensor::<B::InnerBackend, 2, Int>::from_data(tokens, &device);
                Reply::Logits(crate::harness::guarded("logits", || {
                    ModelProbe::<B>::read(&sub, &tokens)
                })?)
            }
        };
        if reply.send((rank, answer)).is_err() {
            break;
        }
    }
    Ok(())
}

//! The fence around a run of someone else's code: applied by `speedcert run --fence` to
//! its own process after the harness has read the track and before the submission's
//! first line runs, so the fence holds for everything the submission does and for every
//! thread and process it starts.
//!
//! What it uses is what Linux offers without root:
//! * a new user and network namespace (`unshare`): no network interface but a loopback
//!   that is down, so nothing is reachable;
//! * Landlock: files can be read only under the system's library and device folders,
//!   the track's data folder and the process's own binary, written only in the run's
//!   output folder; TCP and UDP bind and connect are denied; signals and abstract Unix
//!   sockets cannot reach processes outside the fence (and, as for any Landlock domain,
//!   neither can ptrace, so a parent's memory, which holds the signing key, is out of
//!   reach);
//! * `no_new_privs`, which Landlock sets: a setuid binary cannot lift the fence.
//!
//! What it does not stop: code with `unsafe` in the same process can read or change the
//! harness's memory (the clock, the validation tokens, the loss); the capability report
//! of the submission's source says where such code is. The validation shards of a shard
//! track are readable, since the harness in the same process reads them.

use std::io::Read;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};
use thiserror::Error;

use crate::track::Fence;

/// Folders any program needs to read to run (the dynamic loader, libc, locale, CPU
/// topology, the GPU driver's libraries and device files).
const SYSTEM_READ: [&str; 11] = [
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/nix/store",
];

#[derive(Debug, Error)]
pub enum FenceError {
    #[error(
        "cannot fence this process: {0} threads already run (a fence holds only for the thread that sets it and threads started after it)"
    )]
    Threads(usize),
    #[error("cannot fence this process: {0}")]
    Landlock(String),
    #[error("cannot fence this process: {what} not in force on this machine ({why})")]
    Required { what: &'static str, why: String },
}

/// What the fence lets the run touch.
#[derive(Debug, Clone, Default)]
pub struct FenceSpec {
    /// Read-only, beyond the system folders (the track's data).
    pub read: Vec<PathBuf>,
    /// Read-write (the run's output folder).
    pub write: Vec<PathBuf>,
}

/// Fences the calling process, which must still be single-threaded. Returns the names of
/// the fences in force. Fails when a fence cannot be set at all: a run that asked to be
/// fenced never runs unfenced.
pub fn apply(spec: &FenceSpec) -> Result<Vec<String>, FenceError> {
    let threads = thread_count();
    if threads > 1 {
        return Err(FenceError::Threads(threads));
    }
    let mut fences = Vec::new();
    // The namespace first: Landlock then also covers the files written to map the ids.
    enter_network_namespace().map_err(|e| FenceError::Required {
        what: "a network namespace",
        why: e.to_string(),
    })?;
    fences.push(Fence::NetworkNamespace.to_string());
    fences.extend(landlock(spec)?);
    Ok(fences)
}

/// `Threads:` of /proc/self/status (0 when unreadable, which fails no check that matters:
/// Landlock then still restricts this thread and every later one).
fn thread_count() -> usize {
    let mut text = String::new();
    let _ = std::fs::File::open("/proc/self/status").and_then(|mut f| f.read_to_string(&mut text));
    text.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A new user namespace (so no privilege is needed) holding a new network namespace;
/// the process keeps its user and group ids inside it.
fn enter_network_namespace() -> std::io::Result<()> {
    // SAFETY: getuid/getgid cannot fail; unshare only changes this process's namespaces.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: plain system call with flag arguments.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Map our own ids so files written keep their owner as seen inside; best effort (an
    // unmapped id still works for the files this run touches).
    let _ = std::fs::write("/proc/self/setgroups", "deny");
    let _ = std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"));
    let _ = std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"));
    Ok(())
}

/// The kernel's Landlock ABI version (0 without Landlock).
fn landlock_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_long = 1;
    // SAFETY: the version query takes a null attribute pointer and size 0 by contract.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    v.max(0)
}

fn landlock(spec: &FenceSpec) -> Result<Vec<String>, FenceError> {
    let kernel = landlock_abi();
    if kernel < 1 {
        return Err(FenceError::Required {
            what: "Landlock",
            why: "the kernel has no Landlock (Linux 5.13 or later with landlock in the LSM list)"
                .into(),
        });
    }
    let abi = ABI::V7;
    let err = |e: landlock::RulesetError| FenceError::Landlock(e.to_string());
    let nvidia: Vec<PathBuf> = std::fs::read_dir("/dev")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("nvidia"))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut writable: Vec<PathBuf> = spec.write.clone();
    writable.push(PathBuf::from("/dev/null"));
    writable.extend(nvidia);
    // Its own binary, read to record its digest in run.json (the identity check).
    let exe: Vec<PathBuf> = std::env::current_exe().into_iter().collect();
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .handle_access(AccessNet::from_all(abi))
        .map_err(err)?
        .scope(Scope::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(
            SYSTEM_READ
                .iter()
                .map(Path::new)
                .chain(spec.read.iter().map(PathBuf::as_path))
                .chain(exe.iter().map(PathBuf::as_path)),
            AccessFs::from_read(abi),
        ))
        .map_err(err)?
        .add_rules(path_beneath_rules(&writable, AccessFs::from_all(abi)))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(FenceError::Required {
            what: "Landlock",
            why: "the kernel refused the ruleset".into(),
        });
    }
    let mut fences = vec![Fence::LandlockFilesystem.to_string()];
    if kernel >= 4 {
        fences.push(Fence::LandlockNetwork.to_string());
    }
    if kernel >= 6 {
        fences.push(Fence::LandlockScope.to_string());
    }
    Ok(fences)
}

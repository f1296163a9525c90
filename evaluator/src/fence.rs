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
//! * a seccomp filter ([`DENIED`]): sockets other than Unix ones (so not even a socket
//!   of the network namespace's own), other processes' memory (`ptrace`,
//!   `process_vm_readv`), and kernel interfaces a training run never needs and that widen
//!   what a hostile run can reach (io_uring, eBPF, perf events, keyrings, userfaultfd,
//!   mounts, namespaces, file handles, modules, clocks): each fails with EPERM;
//! * `no_new_privs`, which Landlock sets: a setuid binary cannot lift the fence.
//!
//! What it does not stop: code with `unsafe` in the same process can read or change the
//! harness's memory (the clock, the validation tokens, the loss); the capability report
//! of the submission's source says where such code is. `clone` with namespace flags is
//! not filtered (its flags cannot be read for `clone3`); Landlock's domain holds in any
//! namespace a run creates. The validation shards of a shard
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
    #[error("cannot fence this process: the seccomp filter: {0}")]
    Seccomp(String),
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
    seccomp()?;
    fences.push(Fence::Seccomp.to_string());
    Ok(fences)
}

/// The system calls the seccomp fence refuses (EPERM), and why: none is used to train.
pub const DENIED: &[(i64, &str)] = &[
    // Other processes' memory and files (Landlock's scope stops this outside the fence;
    // this stops it also between the run's own processes).
    (libc::SYS_ptrace, "ptrace"),
    (libc::SYS_process_vm_readv, "process_vm_readv"),
    (libc::SYS_process_vm_writev, "process_vm_writev"),
    (libc::SYS_pidfd_getfd, "pidfd_getfd"),
    (libc::SYS_kcmp, "kcmp"),
    // Large kernel surfaces, side channels and exploit primitives.
    (libc::SYS_io_uring_setup, "io_uring_setup"),
    (libc::SYS_io_uring_enter, "io_uring_enter"),
    (libc::SYS_io_uring_register, "io_uring_register"),
    (libc::SYS_bpf, "bpf"),
    (libc::SYS_perf_event_open, "perf_event_open"),
    (libc::SYS_userfaultfd, "userfaultfd"),
    // Kernel keyrings are shared with the session that started the run.
    (libc::SYS_keyctl, "keyctl"),
    (libc::SYS_add_key, "add_key"),
    (libc::SYS_request_key, "request_key"),
    // Mounts, namespaces and file handles (a handle opens a file by inode, not path).
    (libc::SYS_mount, "mount"),
    (libc::SYS_umount2, "umount2"),
    (libc::SYS_pivot_root, "pivot_root"),
    (libc::SYS_chroot, "chroot"),
    (libc::SYS_fsopen, "fsopen"),
    (libc::SYS_fsconfig, "fsconfig"),
    (libc::SYS_fsmount, "fsmount"),
    (libc::SYS_fspick, "fspick"),
    (libc::SYS_move_mount, "move_mount"),
    (libc::SYS_open_tree, "open_tree"),
    (libc::SYS_mount_setattr, "mount_setattr"),
    (libc::SYS_unshare, "unshare"),
    (libc::SYS_setns, "setns"),
    (libc::SYS_name_to_handle_at, "name_to_handle_at"),
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
    // The machine itself: modules, reboot, swap, accounting, the clocks.
    (libc::SYS_init_module, "init_module"),
    (libc::SYS_finit_module, "finit_module"),
    (libc::SYS_delete_module, "delete_module"),
    (libc::SYS_kexec_load, "kexec_load"),
    (libc::SYS_kexec_file_load, "kexec_file_load"),
    (libc::SYS_reboot, "reboot"),
    (libc::SYS_swapon, "swapon"),
    (libc::SYS_swapoff, "swapoff"),
    (libc::SYS_acct, "acct"),
    (libc::SYS_settimeofday, "settimeofday"),
    (libc::SYS_clock_settime, "clock_settime"),
    (libc::SYS_clock_adjtime, "clock_adjtime"),
    (libc::SYS_adjtimex, "adjtimex"),
];

/// Installs [`seccomp_program`] on this (single) thread; every thread and process
/// started after it inherits it.
fn seccomp() -> Result<(), FenceError> {
    seccompiler::apply_filter(&seccomp_program()?).map_err(|e| FenceError::Seccomp(e.to_string()))
}

/// The seccomp filter: [`DENIED`] and every socket whose domain is not `AF_UNIX` fail
/// with EPERM; everything else is allowed.
fn seccomp_program() -> Result<seccompiler::BpfProgram, FenceError> {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };
    fn err(e: impl std::fmt::Display) -> FenceError {
        FenceError::Seccomp(e.to_string())
    }
    let not_unix = || {
        SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            libc::AF_UNIX as u64,
        )
        .and_then(|c| SeccompRule::new(vec![c]))
        .map_err(err)
    };
    let mut rules: std::collections::BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&(call, _)| (call, Vec::new())).collect();
    rules.insert(libc::SYS_socket, vec![not_unix()?]);
    rules.insert(libc::SYS_socketpair, vec![not_unix()?]);
    let arch = std::env::consts::ARCH.try_into().map_err(err)?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(err)?;
    filter.try_into().map_err(err)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    /// A child under the seccomp filter alone (as root and, when the tests run as root,
    /// as nobody: the filter must not depend on privilege) calls every denied system call
    /// and opens sockets: each denied call and the non-Unix sockets fail with EPERM,
    /// while a Unix socket pair and ordinary calls still work.
    #[test]
    fn the_seccomp_filter_refuses_what_it_lists_and_nothing_a_run_needs() {
        let program = seccomp_program().unwrap();
        let calls: Vec<String> = DENIED.iter().map(|(n, _)| n.to_string()).collect();
        let script = format!(
            r#"
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
for n in [{}]:
    ctypes.set_errno(0)
    r = libc.syscall(n, 0, 0, 0, 0, 0, 0)
    print("call", n, r, ctypes.get_errno())
for name, family in [("inet", socket.AF_INET), ("inet6", socket.AF_INET6), ("netlink", socket.AF_NETLINK)]:
    try:
        socket.socket(family, socket.SOCK_DGRAM if family == socket.AF_NETLINK else socket.SOCK_STREAM).close()
        print("socket", name, "opened")
    except PermissionError:
        print("socket", name, "refused")
a, b = socket.socketpair()
a.sendall(b"x"); print("socketpair", b.recv(1).decode())
print("pid", os.getpid() > 0)
"#,
            calls.join(", ")
        );
        // SAFETY: getuid cannot fail.
        let users: &[Option<u32>] = if unsafe { libc::getuid() } == 0 {
            &[None, Some(65534)]
        } else {
            &[None]
        };
        for &uid in users {
            let program = program.clone();
            let mut c = std::process::Command::new("python3");
            c.args(["-c", &script]);
            if let Some(uid) = uid {
                c.uid(uid).gid(uid);
            }
            // SAFETY: the program was built before the fork; installing it is two
            // system calls (prctl, seccomp), which are async-signal-safe.
            unsafe {
                c.pre_exec(move || {
                    seccompiler::apply_filter(&program).map_err(std::io::Error::other)
                });
            }
            let out = c.output().expect("python3 runs");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "as {uid:?}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            for (n, name) in DENIED {
                assert!(
                    text.lines()
                        .any(|l| l == format!("call {n} -1 {}", libc::EPERM)),
                    "as {uid:?}: {name} ({n}) was not refused with EPERM:\n{text}"
                );
            }
            for line in [
                "socket inet refused",
                "socket inet6 refused",
                "socket netlink refused",
                "socketpair x",
                "pid True",
            ] {
                assert!(
                    text.lines().any(|l| l == line),
                    "as {uid:?}: {line}\n{text}"
                );
            }
        }
    }
}

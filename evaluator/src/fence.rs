//! The fence around a run of someone else's code. The referee's own binary applies it
//! (`speedcert fenced`, a fresh single-threaded process of the referee) and only then
//! becomes the run's program ([`wrap`]): the runner of a submission built from a folder,
//! a built-in run, or a command submission. So the fence holds from the program's first
//! instruction, code a submission runs before `main` (a static constructor) included,
//! and for every thread and process it starts. The parent then checks from outside that
//! the child is in it ([`observe`]) and records that in run.json, not what the run says.
//!
//! What it uses is what Linux offers without root:
//! * a new user and network namespace (`unshare`): no network interface but the
//!   namespace's own loopback (down for a harness run, up for a command run, whose
//!   torchrun workers meet over it), so nothing outside is reachable;
//! * Landlock: files can be read only under the system's library and device folders,
//!   the track's file and data folder and the program's binary, written only in the run's
//!   output folder; TCP and UDP bind and connect are denied (harness runs); signals and abstract Unix
//!   sockets cannot reach processes outside the fence (and, as for any Landlock domain,
//!   neither can ptrace, so a parent's memory, which holds the signing key, is out of
//!   reach);
//! * a seccomp filter ([`DENIED`]): for a harness run every `socket` (Landlock does not
//!   govern `connect` to a Unix socket file, so a socket could reach a daemon outside the
//!   fence, such as Docker's, as the certifier's user) and every socket pair but a
//!   connected stream one; for a command run sockets outside the families its loopback
//!   needs (Unix, IPv4, IPv6, netlink); other processes' memory (`ptrace`,
//!   `process_vm_readv`); new namespaces (`unshare`, `clone` with a namespace flag;
//!   `clone3`, whose flags a filter cannot read, fails with ENOSYS so that the C library
//!   falls back to `clone`); and kernel interfaces a training run never needs and that
//!   widen what a hostile run can reach (io_uring, eBPF, perf events, keyrings,
//!   userfaultfd, mounts, file handles, modules, clocks): each fails with EPERM;
//! * `no_new_privs`, which Landlock sets: a setuid binary cannot lift the fence.
//!
//! What it does not stop: code with `unsafe` in the same process can read or change the
//! harness's memory (the clock, the validation tokens, the loss); the capability report
//! of the submission's source says where such code is. The validation shards of a shard
//! track are readable, since the harness in the same process reads them. A command run
//! may open Unix sockets (NCCL and torchrun use them), so it can connect to a Unix socket
//! file outside its folders that its user may write to: certify command submissions as
//! an unprivileged user.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};
use thiserror::Error;

use crate::track::Fence;

/// Folders any program needs to read to run (the dynamic loader, libc, locale, CPU
/// topology, the GPU driver's libraries and device files).
pub const SYSTEM_READ: [&str; 11] = [
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
    pub network: Network,
}

/// The network a fenced process has. Either way it is the namespace's own, so nothing
/// outside the machine, or on it, is reachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Network {
    /// None: the loopback stays down, TCP and UDP are denied, and no socket can be made
    /// but a connected Unix stream pair (a harness run needs none).
    #[default]
    None,
    /// The loopback, up, with TCP, UDP and Unix sockets: a command run's processes
    /// (torchrun and its workers) meet over it.
    Loopback,
}

/// How `speedcert fenced` tells the program it becomes which fences it set (comma
/// separated), so a run can name them in its own output; a certification records what
/// it observed instead ([`observe`]).
pub const FENCES_ENV: &str = "SPEEDCERT_FENCES";

impl FenceSpec {
    /// The fence of a harness run (a runner, or a built-in submission): no network; read
    /// its track file, its own binary and a shard track's data; write `out`, if any.
    pub fn harness_run(
        track: &crate::track::TrackSpec,
        track_file: Option<&Path>,
        program: &Path,
        out: Option<&Path>,
    ) -> Self {
        let mut read: Vec<PathBuf> = track_file.into_iter().map(Path::to_path_buf).collect();
        read.push(program.to_path_buf());
        if let crate::track::DataSpec::Shards(d) = &track.data {
            read.push(d.dir.clone());
        }
        Self {
            read,
            write: out.into_iter().map(Path::to_path_buf).collect(),
            network: Network::None,
        }
    }
}

/// `program` as a child of this binary's hidden `fenced` subcommand, which fences its own
/// new process as `spec` says and then becomes `program` (with the arguments the caller
/// adds). This binary must be the referee's: code of the program's own would run before
/// it fenced itself.
pub fn wrap(spec: &FenceSpec, program: &OsStr) -> Command {
    let referee = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("speedcert"));
    let mut c = Command::new(referee);
    let network =
        clap::ValueEnum::to_possible_value(&spec.network).expect("every network has a name");
    c.arg("fenced").args(["--network", network.get_name()]);
    for path in &spec.read {
        c.arg("--read").arg(path);
    }
    for path in &spec.write {
        c.arg("--write").arg(path);
    }
    c.arg("--").arg(program);
    c
}

/// The fences `pid` is in, seen from this process, which is outside them: a network and
/// a user namespace other than this one's, `no_new_privs`, and two seccomp filters more
/// than this process has (seccomp is the last step of [`apply`], so the rest is set by
/// then; Landlock shows nowhere in /proc, and `apply` sets it or fails). `None` while
/// that is not (yet) so, or when `pid` cannot be read.
pub fn observe(pid: u32, network: Network) -> Option<Vec<String>> {
    fn status(pid: &str) -> Option<(bool, u32)> {
        let text = proc_status(pid)?;
        let filters =
            status_field(&text, "Seccomp_filters:").map_or(Some(0), |n| n.parse().ok())?;
        Some((status_field(&text, "NoNewPrivs:") == Some("1"), filters))
    }
    fn namespace(pid: &str, kind: &str) -> Option<PathBuf> {
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()
    }
    let theirs = pid.to_string();
    let (no_new_privs, filters) = status(&theirs)?;
    let (_, ours) = status("self")?;
    let apart = |kind| Some(namespace(&theirs, kind)? != namespace("self", kind)?);
    (no_new_privs && filters >= ours + 2 && apart("net")? && apart("user")?)
        .then(|| in_force(network))
}

/// The fences named in [`FENCES_ENV`] by the `speedcert fenced` this process came from,
/// when this process is fenced at all (`no_new_privs` and a seccomp filter); else none.
pub fn named_by_parent() -> Vec<String> {
    let Some(names) = std::env::var_os(FENCES_ENV) else {
        return Vec::new();
    };
    let text = proc_status("self").unwrap_or_default();
    if status_field(&text, "NoNewPrivs:") != Some("1")
        || status_field(&text, "Seccomp:") != Some("2")
    {
        return Vec::new();
    }
    names
        .to_string_lossy()
        .split(',')
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

/// Fences the calling process, which must still be single-threaded. Returns the names of
/// the fences in force. Fails when a fence cannot be set at all: a run that asked to be
/// fenced never runs unfenced.
pub fn apply(spec: &FenceSpec) -> Result<Vec<String>, FenceError> {
    let threads = thread_count();
    if threads > 1 {
        return Err(FenceError::Threads(threads));
    }
    // The namespace first: Landlock then also covers the files written to map the ids.
    enter_network_namespace().map_err(|e| FenceError::Required {
        what: "a network namespace",
        why: e.to_string(),
    })?;
    if spec.network == Network::Loopback {
        loopback_up().map_err(|e| FenceError::Required {
            what: "the namespace's loopback",
            why: e.to_string(),
        })?;
    }
    landlock(spec)?;
    seccomp(spec.network)?;
    Ok(in_force(spec.network))
}

/// The names of the fences [`apply`] sets for `network` on this kernel (it sets all of
/// them or fails): what run.json `fences` records, also for a process fenced by another
/// (`speedcert fenced`), which can name them only by having run.
pub fn in_force(network: Network) -> Vec<String> {
    let kernel = landlock_abi();
    let mut fences = vec![Fence::NetworkNamespace, Fence::LandlockFilesystem];
    if kernel >= 4 && network == Network::None {
        fences.push(Fence::LandlockNetwork);
    }
    if kernel >= 6 {
        fences.push(Fence::LandlockScope);
    }
    fences.push(Fence::Seccomp);
    fences.iter().map(ToString::to_string).collect()
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

/// The flags of `clone` that make a new namespace: a run that made one could leave the
/// network namespace's view or remap its ids (Landlock would still hold).
const NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

/// The socket families a command run may open: what its loopback and its processes'
/// rendezvous need. Others (packet, vsock, which reaches a virtual machine's host, and
/// the rest) fail with EPERM.
const LOOPBACK_FAMILIES: [libc::c_int; 4] = [
    libc::AF_UNIX,
    libc::AF_INET,
    libc::AF_INET6,
    libc::AF_NETLINK,
];

/// Installs [`seccomp_programs`] on this (single) thread; every thread and process
/// started after it inherits them.
fn seccomp(network: Network) -> Result<(), FenceError> {
    for program in seccomp_programs(network)? {
        seccompiler::apply_filter(&program).map_err(|e| FenceError::Seccomp(e.to_string()))?;
    }
    Ok(())
}

/// The seccomp filters: the first refuses with EPERM [`DENIED`], `clone` with any of
/// [`NAMESPACE_FLAGS`] and the sockets `network` does not allow; the second answers
/// `clone3` with ENOSYS (its flags are in memory a filter cannot read; the C library then
/// uses `clone`, which the first filter sees). Everything else is allowed.
fn seccomp_programs(network: Network) -> Result<Vec<seccompiler::BpfProgram>, FenceError> {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };
    fn err(e: impl std::fmt::Display) -> FenceError {
        FenceError::Seccomp(e.to_string())
    }
    let condition = |arg: u8, op: SeccompCmpOp, value: libc::c_int| {
        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value as u64).map_err(err)
    };
    let rule = |conditions: Vec<SeccompCondition>| SeccompRule::new(conditions).map_err(err);
    let mut rules: std::collections::BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&(call, _)| (call, Vec::new())).collect();
    rules.insert(
        libc::SYS_clone,
        NAMESPACE_FLAGS
            .iter()
            .map(|&flag| {
                rule(vec![condition(
                    0,
                    SeccompCmpOp::MaskedEq(flag as u64),
                    flag,
                )?])
            })
            .collect::<Result<_, _>>()?,
    );
    match network {
        Network::None => {
            // No rule: refused whatever the arguments.
            rules.insert(libc::SYS_socket, Vec::new());
            // A pair is already connected, but a datagram one can still send to a
            // socket file by address; a stream one cannot.
            rules.insert(
                libc::SYS_socketpair,
                vec![
                    rule(vec![condition(0, SeccompCmpOp::Ne, libc::AF_UNIX)?])?,
                    rule(vec![condition(
                        1,
                        SeccompCmpOp::MaskedEq(0xf),
                        libc::SOCK_DGRAM,
                    )?])?,
                ],
            );
        }
        Network::Loopback => {
            let not_allowed = || {
                LOOPBACK_FAMILIES
                    .iter()
                    .map(|&f| condition(0, SeccompCmpOp::Ne, f))
                    .collect::<Result<Vec<_>, _>>()
                    .and_then(&rule)
            };
            rules.insert(libc::SYS_socket, vec![not_allowed()?]);
            rules.insert(libc::SYS_socketpair, vec![not_allowed()?]);
        }
    }
    let arch = std::env::consts::ARCH.try_into().map_err(err)?;
    let denied = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(err)?;
    let clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(err)?;
    Ok(vec![
        denied.try_into().map_err(err)?,
        clone3.try_into().map_err(err)?,
    ])
}

/// Brings up the loopback of the (new, empty) network namespace: `ip link set lo up`.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: a plain socket used only for the two ioctls below, closed before return;
    // `ifreq` is plain data, zeroed, with a NUL-terminated name.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let result = if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request) < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &request) < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        libc::close(fd);
        result
    }
}

/// `Threads:` of /proc/self/status (0 when unreadable, which fails no check that matters:
/// Landlock then still restricts this thread and every later one).
fn thread_count() -> usize {
    proc_status("self")
        .and_then(|text| status_field(&text, "Threads:")?.parse().ok())
        .unwrap_or(0)
}

/// /proc/PID/status (`pid` may be `self`), or `None` when it cannot be read.
fn proc_status(pid: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// The value of the `name` line (`Threads:`, say) of a /proc status text.
fn status_field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
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

fn landlock(spec: &FenceSpec) -> Result<(), FenceError> {
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
    if spec.network == Network::Loopback {
        // Shared memory between a command's processes (NCCL, torch's DataLoader workers).
        writable.extend(Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()));
    }
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?;
    if spec.network == Network::None {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(err)?;
    }
    let status = ruleset
        .scope(Scope::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(
            SYSTEM_READ
                .iter()
                .map(Path::new)
                .chain(spec.read.iter().map(PathBuf::as_path)),
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    /// Runs `script` in python3 under the seccomp filters of `network` alone, as root and,
    /// when the tests run as root, as nobody (the filters must not depend on privilege);
    /// returns each run's stdout.
    fn under_filters(network: Network, script: &str) -> Vec<(Option<u32>, String)> {
        let programs = seccomp_programs(network).unwrap();
        // SAFETY: getuid cannot fail.
        let users: &[Option<u32>] = if unsafe { libc::getuid() } == 0 {
            &[None, Some(65534)]
        } else {
            &[None]
        };
        users
            .iter()
            .map(|&uid| {
                let programs = programs.clone();
                let mut c = std::process::Command::new("python3");
                c.args(["-c", script]);
                if let Some(uid) = uid {
                    c.uid(uid).gid(uid);
                }
                // SAFETY: the programs were built before the fork; installing them is
                // system calls only (prctl, seccomp), which are async-signal-safe.
                unsafe {
                    c.pre_exec(move || {
                        for p in &programs {
                            seccompiler::apply_filter(p).map_err(std::io::Error::other)?;
                        }
                        Ok(())
                    });
                }
                let out = c.output().expect("python3 runs");
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                assert!(
                    out.status.success(),
                    "as {uid:?}: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                (uid, text)
            })
            .collect()
    }

    /// Python that tries each socket family in `families` (name, number, type) and prints
    /// `socket NAME opened|refused|unsupported`.
    const SOCKETS: &str = r#"
def try_socket(name, family, kind):
    try:
        socket.socket(family, kind).close()
        print("socket", name, "opened")
    except PermissionError:
        print("socket", name, "refused")
    except OSError:
        print("socket", name, "unsupported")
def try_pair(name, kind):
    try:
        a, b = socket.socketpair(socket.AF_UNIX, kind)
        a.send(b"x"); print("socketpair", name, b.recv(1).decode())
    except PermissionError:
        print("socketpair", name, "refused")
"#;

    /// Python that calls `clone` with a namespace flag (a child that got through exits at
    /// once), `clone3`, and starts a thread and a process, which must still work.
    const PROCESSES: &str = r#"
ctypes.set_errno(0)
r = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)
if r == 0:
    os._exit(0)
if r > 0:
    os.waitpid(r, 0)
print("clone newuser", r, ctypes.get_errno())
ctypes.set_errno(0)
print("clone3", libc.syscall(435, 0, 0), ctypes.get_errno())
t = threading.Thread(target=lambda: print("thread ran")); t.start(); t.join()
print("process", subprocess.run(["true"]).returncode)
"#;

    fn assert_lines(uid: Option<u32>, text: &str, lines: &[String]) {
        for line in lines {
            assert!(
                text.lines().any(|l| l == line),
                "as {uid:?}: no `{line}` in:\n{text}"
            );
        }
    }

    /// A harness run's filters: every denied system call, `clone` with a namespace flag
    /// and every socket (a Unix one too: it could connect to a socket file outside the
    /// fence) fail with EPERM, `clone3` with ENOSYS; a stream socket pair, threads and
    /// processes still work.
    #[test]
    fn the_seccomp_filter_refuses_what_it_lists_and_nothing_a_run_needs() {
        let calls: Vec<String> = DENIED.iter().map(|(n, _)| n.to_string()).collect();
        let script = format!(
            "import ctypes, os, socket, subprocess, threading\nlibc = ctypes.CDLL(None, use_errno=True)\n{SOCKETS}{PROCESSES}
for n in [{}]:
    ctypes.set_errno(0)
    r = libc.syscall(n, 0, 0, 0, 0, 0, 0)
    print(\"call\", n, r, ctypes.get_errno())
try_socket(\"unix\", socket.AF_UNIX, socket.SOCK_STREAM)
try_socket(\"inet\", socket.AF_INET, socket.SOCK_STREAM)
try_socket(\"inet6\", socket.AF_INET6, socket.SOCK_STREAM)
try_socket(\"netlink\", socket.AF_NETLINK, socket.SOCK_DGRAM)
try_pair(\"stream\", socket.SOCK_STREAM)
try_pair(\"dgram\", socket.SOCK_DGRAM)
",
            calls.join(", ")
        );
        for (uid, text) in under_filters(Network::None, &script) {
            let mut lines: Vec<String> = DENIED
                .iter()
                .map(|(n, _)| format!("call {n} -1 {}", libc::EPERM))
                .collect();
            lines.extend(
                [
                    "socket unix refused",
                    "socket inet refused",
                    "socket inet6 refused",
                    "socket netlink refused",
                    "socketpair stream x",
                    "socketpair dgram refused",
                    "thread ran",
                    "process 0",
                ]
                .map(String::from),
            );
            lines.push(format!("clone newuser -1 {}", libc::EPERM));
            lines.push(format!("clone3 -1 {}", libc::ENOSYS));
            assert_lines(uid, &text, &lines);
        }
    }

    /// A command run's filters: the loopback's families (Unix, IPv4, IPv6, netlink) open,
    /// others (vsock, packet) fail with EPERM; namespaces stay refused.
    #[test]
    fn a_command_runs_filter_allows_the_loopbacks_sockets_only() {
        let script = format!(
            "import ctypes, os, socket, subprocess, threading\nlibc = ctypes.CDLL(None, use_errno=True)\n{SOCKETS}{PROCESSES}
try_socket(\"unix\", socket.AF_UNIX, socket.SOCK_STREAM)
try_socket(\"inet\", socket.AF_INET, socket.SOCK_STREAM)
try_socket(\"inet6\", socket.AF_INET6, socket.SOCK_STREAM)
try_socket(\"netlink\", socket.AF_NETLINK, socket.SOCK_DGRAM)
try_socket(\"vsock\", 40, socket.SOCK_STREAM)
try_socket(\"packet\", 17, socket.SOCK_DGRAM)
try_pair(\"dgram\", socket.SOCK_DGRAM)
"
        );
        for (uid, text) in under_filters(Network::Loopback, &script) {
            let mut lines: Vec<String> = [
                "socket unix opened",
                "socket inet opened",
                "socket netlink opened",
                "socket vsock refused",
                "socket packet refused",
                "socketpair dgram x",
                "thread ran",
                "process 0",
            ]
            .map(String::from)
            .to_vec();
            lines.push(format!("clone newuser -1 {}", libc::EPERM));
            lines.push(format!("clone3 -1 {}", libc::ENOSYS));
            assert_lines(uid, &text, &lines);
        }
    }
}

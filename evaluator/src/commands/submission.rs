//! `speedcert submission new`: scaffold a submission folder; `submission runner-source`
//! (hidden): write a submission's runner workspace, for the flake's runner function.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{code, exit};
use crate::outside::command::{self, CommandFolder};
use crate::outside::{BuildSettings, scaffold};
use crate::registry::Registry;
use crate::track::{self, Track};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SubmissionCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SubmissionCommand {
    /// Write a new submission folder: a crate on speedcert-sdk that trains the reference
    /// recipe (with a learning-rate knob), its test, README and Cargo.lock.
    New {
        /// The submission's name (lowercase letters, digits and dashes).
        name: String,
        /// Folder to create (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Track it is for: a name in records/tracks and $SPEEDCERT_TRACKS, or a .toml path.
        #[arg(long, default_value = track::EMBEDDED_DEFAULT_NAME)]
        track: String,
    },
    /// Write the runner's workspace of the submission in DIR into OUT (a new folder), as
    /// certify does before it builds; nix/runner.nix builds it.
    #[command(hide = true)]
    RunnerSource {
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: Args, registry: &Registry) -> anyhow::Result<ExitCode> {
    match args.command {
        SubmissionCommand::New { name, dir, track } => {
            if registry.get(&name).is_some() {
                anyhow::bail!(
                    "`{name}` is a built-in submission's name; a submission cannot take it"
                );
            }
            let track = Track::resolve(&track, &track::default_track_dirs())?;
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let settings = BuildSettings::for_this_binary()?;
            let files =
                scaffold::new_submission(&dir, &name, &track.spec.name, &settings.referee_source)?;
            for f in &files {
                println!("wrote {}", f.display());
            }
            println!(
                "next: edit {}/src/lib.rs, then `speedcert run --track {} --submission {}`",
                dir.display(),
                track.spec.name,
                dir.display()
            );
            Ok(code(exit::SUCCESS))
        }
        SubmissionCommand::RunnerSource { dir, out } => {
            if out.exists() {
                anyhow::bail!("{}: already there; give a new folder", out.display());
            }
            let referee = BuildSettings::for_this_binary()?.referee_source;
            let tree = speedcert_bundle::source::SourceTree::walk(&dir)?;
            let ws = crate::outside::runner::generate(&dir, &tree, &referee, &out, true)?;
            if registry.get(&ws.manifest.name).is_some() {
                anyhow::bail!(
                    "{}: `{}` is a built-in submission's name; a submission cannot take it",
                    dir.display(),
                    ws.manifest.name
                );
            }
            println!("{}", ws.bin);
            Ok(code(exit::SUCCESS))
        }
    }
}

/// The submissions of one certification that come from folders: crates built into
/// runners, and command submissions read and digested.
#[derive(Default)]
pub(crate) struct Folders {
    pub built: Vec<crate::outside::Built>,
    pub commands: Vec<CommandFolder>,
}

impl Folders {
    pub fn extend(&mut self, other: Folders) {
        self.built.extend(other.built);
        self.commands.extend(other.commands);
    }

    /// The source digest the folder of submission `name` has now, if it is a folder.
    pub fn digest(&self, name: &str) -> Option<(&std::path::Path, &str)> {
        self.built
            .iter()
            .filter(|b| b.runner.build.submission == name)
            .map(|b| (b.dir.as_path(), b.runner.build.source_sha256.as_str()))
            .chain(
                self.commands
                    .iter()
                    .filter(|c| c.spec.submission == name)
                    .map(|c| (c.dir.as_path(), c.spec.source_sha256.as_str())),
            )
            .next()
    }
}

/// `--submission`/`--baseline` as given: a built-in's name stays a name; a crate folder
/// is built now, before anything is written, and a command folder (with speedcert.toml)
/// read and digested; either is named by its manifest.
pub(crate) fn resolve(
    value: &str,
    track: &Track,
    registry: &Registry,
    folders: &mut Folders,
) -> anyhow::Result<String> {
    let Some(dir) = crate::outside::manifest::as_folder(value) else {
        return Ok(value.to_owned());
    };
    if command::is_command(&dir) {
        let c = command::read_folder(&dir, &track.spec.name, &registry.names())?;
        let name = c.spec.submission.clone();
        folders.commands.push(c);
        return Ok(name);
    }
    let b = build(&dir, track, registry)?;
    let name = b.runner.build.submission.clone();
    folders.built.push(b);
    Ok(name)
}

/// A record's submission when it came from a folder, from the source its bundle ships: a
/// crate's runner rebuilt, or a command read again, so rerunning a record needs no code
/// in any binary. Empty for a built-in submission.
pub(crate) fn build_record(
    record: &std::path::Path,
    track: &Track,
    registry: &Registry,
) -> anyhow::Result<Folders> {
    let plan = crate::certify::load_plan(record)?;
    let mut folders = Folders::default();
    if let Some(b) = plan.build_of(&plan.submission_sha256) {
        let dir = speedcert_bundle::layout::source_dir(record, &b.source_sha256);
        folders.built.push(build(&dir, track, registry)?);
    }
    if let Some(c) = plan.command_of(&plan.submission_sha256) {
        let dir = speedcert_bundle::layout::source_dir(record, &c.source_sha256);
        folders.commands.push(command::read_folder(
            &dir,
            &track.spec.name,
            &registry.names(),
        )?);
    }
    Ok(folders)
}

/// Builds the runner of the folder `dir`, with a spinner showing the compiler's progress.
pub(crate) fn build(
    dir: &std::path::Path,
    track: &Track,
    registry: &Registry,
) -> anyhow::Result<crate::outside::Built> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    spinner.set_message(format!("building the runner of {}", dir.display()));
    let started = std::time::Instant::now();
    let result =
        crate::outside::build_folder(dir, &track.spec.name, &registry.names(), &mut |line| {
            spinner.set_message(format!(
                "building the runner of {}: {}",
                dir.display(),
                line.trim()
            ));
        });
    spinner.finish_and_clear();
    let built = result?;
    eprintln!(
        "built {} (source {}) in {:.1} s: {}",
        built.runner.build.submission,
        &built.runner.build.source_sha256[..16],
        started.elapsed().as_secs_f64(),
        built.runner.exe.display()
    );
    Ok(built)
}

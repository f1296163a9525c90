//! The `speedcert` binary: parse arguments, run the command, exit with its code.

fn main() -> std::process::ExitCode {
    speedcert::cli::main_with(speedcert::registry::Registry::builtin())
}

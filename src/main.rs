//! The `pipewright` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    pipewright::cli::main()
}

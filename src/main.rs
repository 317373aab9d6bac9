fn main() -> std::process::ExitCode {
    codex_serve::cli::main()
}

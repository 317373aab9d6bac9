fn main() -> std::process::ExitCode {
    codex_serve::server::main()
}

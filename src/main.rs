fn main() -> std::process::ExitCode {
    heist::cli::run()
}

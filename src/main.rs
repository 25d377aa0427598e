fn main() -> std::process::ExitCode {
    tidegate::app::main()
}

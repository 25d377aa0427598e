fn main() -> std::process::ExitCode {
    tidegate::main()
}

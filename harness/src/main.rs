fn main() {
    std::process::exit(chaosgate::cli::main());
}

import SetiFiles

/// A command's failure found while it runs (a file that does not hold what it should,
/// checkpoints that disagree): one line, exit status 1, no usage. `ValidationError` is
/// for the arguments themselves, found before the command runs, and prints the usage.
struct CommandFailure: OneLineError {
    let description: String
    init(_ description: String) { self.description = description }
}

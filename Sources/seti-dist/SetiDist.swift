import ArgumentParser
import Foundation
import SetiFiles
import SetiTraining

/// The `seti-dist` command: a thin shell over the SwiftMPI, SetiNet and data libraries.
@main
struct SetiDist: ParsableCommand {
    /// Parses and runs a command, speaking with one voice: every failure is one line
    /// starting "seti-dist: error:". A usage error (a flag, a value, a command name) names
    /// the option's help and where the usage is, and exits 64 (EX_USAGE); a failure while
    /// running (a missing file, a bad header) exits 1. Under mpirun every rank parses the
    /// same arguments, so a mistake is found by all of them: only rank 0 reports it, and
    /// every rank exits with the same status, before MPI starts.
    static func main() {
        tuneOpenBLASThreads()
        let arguments = Array(CommandLine.arguments.dropFirst())
        let reporting = (ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] ?? "0") == "0"
        var command: ParsableCommand
        do {
            try checkCommandName(arguments)
            command = try parseAsRoot(arguments)
        } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }  // --help, --version
            if reporting, let hint = unknownOptionHint(arguments) {
                fputs("\(errorPrefix)\(escapingControlCharacters(hint))\n", stderr)
            } else if reporting {
                fputs("\(errorPrefix)\(oneLineUsageError(fullMessage(for: error), arguments: arguments))\n", stderr)
            }
            Foundation.exit(code.rawValue)
        }
        do {
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch where exitCode(for: error) == .success {
            exit(withError: error)  // `help COMMAND` prints the help as it runs
        } catch {
            if reporting { fputs("\(errorPrefix)\(escapingControlCharacters(reason(of: error)))\n", stderr) }
            Foundation.exit(1)
        }
    }

    static let errorPrefix = "seti-dist: error: "

    /// ArgumentParser's message for a usage error, which runs over several lines (the
    /// error, the option's help, the usage), as one: the error, the option's help where it
    /// names one (its allowed range), and where the whole usage is. A negative number after
    /// an option is read by ArgumentParser as another option; the line says what happened.
    static func oneLineUsageError(_ message: String, arguments: [String]) -> String {
        // Arguments holding a newline would break the message's lines apart: escape them first.
        var message = message
        for argument in Set(arguments) where escapingControlCharacters(argument) != argument {
            message = message.replacingOccurrences(of: argument, with: escapingControlCharacters(argument))
        }
        let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var error = lines.first.map { $0.hasPrefix("Error: ") ? String($0.dropFirst("Error: ".count)) : $0 } ?? message
        if error.hasPrefix("Missing value for '"), let option = error.dropFirst("Missing value for '".count).split(separator: " ").first,
           let index = arguments.firstIndex(of: String(option)), index + 1 < arguments.count,
           let value = Double(arguments[index + 1]), value < 0 {
            error = "\(option) \(arguments[index + 1]): a negative number is not allowed here"
        }
        // The option's help may wrap onto the lines before "Usage:".
        let help = lines.firstIndex { $0.hasPrefix("Help:") }.map { start in
            lines[start...].prefix { !$0.hasPrefix("Usage:") && !$0.isEmpty }.joined(separator: " ")
                .dropFirst("Help:".count).split(separator: " ").joined(separator: " ")
        }.map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }
        let see = lines.first { $0.hasPrefix("See '") }.flatMap { $0.split(separator: "'").dropFirst().first }
        if error.hasSuffix("."), help != nil { error.removeLast() }
        return escapingControlCharacters(error + (help.map { "; \($0)" } ?? "") + (see.map { " (see \($0))" } ?? ""))
    }

    /// Other tools' names (and seti-dist's old ones) for options seti-dist spells otherwise;
    /// ArgumentParser itself suggests the nearest spelling of a mistyped one.
    private static let otherNames = [
        "--input": "--data", "--data-dir": "--data", "--from": "--data", "--output": "--out", "--to": "--out",
        "--output-dir": "--out", "--logdir": "--out", "--model": "--checkpoint", "--ckpt": "--checkpoint",
        "--weights": "--checkpoint", "--batch-size": "--global-batch", "--learning-rate": "--lr",
        "--warmup": "--warmup-steps", "--warmup-steps": "--untimed-steps", "--outfile": "--file",
    ]

    /// For the first option the command does not have but knows under another name, a line
    /// naming both ("unknown option '--input' for predict; did you mean --data?").
    static func unknownOptionHint(_ arguments: [String]) -> String? {
        var command: ParsableCommand.Type = Train.self
        var name = "train"
        if let first = arguments.first, let sub = configuration.subcommands.first(where: { $0._commandName == first }) {
            (command, name) = (sub, first)
            if let second = arguments.dropFirst().first, let nested = sub.configuration.subcommands.first(where: { $0._commandName == second }) {
                (command, name) = (nested, "\(first) \(second)")
            }
        }
        let help = helpMessage(for: command, columns: 1000)
        for argument in arguments.prefix(while: { $0 != "--" }) where argument.hasPrefix("--") {
            let option = String(argument.split(separator: "=", maxSplits: 1)[0])
            guard let suggestion = otherNames[option], !help.contains(option + " "), help.contains(suggestion + " ") else { continue }
            return "unknown option '\(option)' for \(name); did you mean \(suggestion)?"
        }
        return nil
    }

    /// The train command is the default, so without this a mistyped command name would be
    /// reported as an unexpected argument of train.
    private static func checkCommandName(_ arguments: [String]) throws {
        let names = configuration.subcommands.map { $0._commandName } + ["help"]
        guard let first = arguments.first, !first.hasPrefix("-") else { return }
        let asked = first == "help" ? arguments.dropFirst().first : first
        guard let asked, !asked.hasPrefix("-"), !names.contains(asked) else { return }
        throw ValidationError("unknown command '\(asked)'; commands: \(names.filter { $0 != "help" }.joined(separator: ", "))")
    }

    static let configuration = CommandConfiguration(
        commandName: "seti-dist",
        abstract: "Train a CNN on SETI radio spectrograms, data-parallel over MPI ranks.",
        discussion: """
            Run it under mpirun for several ranks, or on its own for a single-process run:
              mpirun -np 4 seti-dist train
              seti-dist train --epochs 1
            launch/run.sh picks sane mpirun flags and BLAS threads for this machine.
            """,
        version: "seti-dist \(SetiDistVersion.number) (commit \(buildCommit))",
        subcommands: [Train.self, Evaluate.self, Predict.self, Export.self, Plot.self, Simulate.self, Show.self, Convert.self, Scan.self, Summary.self, Bench.self, SelfTest.self],
        defaultSubcommand: Train.self)
}

/// After each GEMM, OpenBLAS's worker threads spin (calling sched_yield) for up to 2^28
/// cycles before sleeping, taking the cores from the element-wise layers that run between
/// GEMMs (perf showed the step's time going to sched_yield; figures in the CHANGELOG). OPENBLAS_THREAD_TIMEOUT=4 makes them sleep at once, but OpenBLAS reads it
/// when the library loads, before any Swift code runs; so without it, the process sets it
/// and re-executes itself (before MPI starts, so this is safe under mpirun). A value the
/// user set is kept.
private func tuneOpenBLASThreads() {
    guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil else { return }
    // The binary's real path, not /proc/self/exe, so the process keeps its name (ps, top).
    guard let binary = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return }
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
    execv(binary, CommandLine.unsafeArgv)
    // execv returns only on failure: carry on with OpenBLAS's default.
}

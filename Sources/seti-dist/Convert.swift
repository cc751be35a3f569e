import ArgumentParser
import Foundation
import SetiData
import SetiFiles
import SetiObservations
import SetiPlot
import SetiTraining

/// `seti-dist convert`: between the CSV and .npy forms of the layout.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a data folder in any supported layout into the public layout, as CSV or NumPy .npy.",
        discussion: """
            Reads both parts (train and validation) of --data in any layout train reads (the \
            public CSV or .npy layout, ML4SETI .dat files, class folders of PNG pictures), \
            checks that they name the same classes, and only then writes them to --out as \
            train/ and validation/ subfolders. .npy images are float32 [N, 64, 128] and labels \
            int64 class indices [N]: numpy.load reads them, and they load in well under a second.

            Examples:
              seti-dist convert --data ~/seti/primary_small --out data/seti-npy --format npy
              seti-dist convert --data ~/ml4seti/basic4 --out data/basic4
            """)

    @Option(help: "Input data folder.")
    var data: String

    @Option(help: "Output data folder.")
    var out: String

    @Option(help: "Output format.")
    var format: DataFolder.Format = .npy

    @Flag(help: "Replace the data set already in --out (its files in the other format too).")
    var overwrite = false

    /// Both parts are read and checked before anything is written: a refused input leaves
    /// no half-converted folder.
    func run() throws {
        let start = Date()
        let parts = try DataFolder.Split.allCases.map { ($0, try DataFolder.load($0, from: URL(fileURLWithPath: data))) }
        let (train, validation) = (parts[0].1, parts[1].1)
        guard train.classNames == validation.classNames else {
            throw DataError("\(data): train holds the classes \(train.classNames.joined(separator: ", ")) and validation \(validation.classNames.joined(separator: ", ")); convert needs one class list")
        }
        try writeDataFolder(out, overwrite: overwrite) {
            for (split, set) in parts {
                try DataFolder.write(set, as: split, to: URL(fileURLWithPath: out), formats: [format])
                try Output.line("\(split.rawValue): \(set.count) spectrograms")
            }
        }
        try Output.line("converted in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        try Output.finish()
    }
}

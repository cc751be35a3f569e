// swift-tools-version:6.0
// seti-dist: data-parallel training of the SETI spectrogram CNN over MPI, on OpenBLAS.
import PackageDescription

let package = Package(
    name: "seti-dist",
    products: [
        .executable(name: "seti-dist", targets: ["seti-dist"]),
        .library(name: "SwiftMPI", targets: ["SwiftMPI"]),
        .library(name: "SetiNet", targets: ["SetiNet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C interop: the only places that see C headers.
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3f",
            providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(
            name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(
            name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo",
            providers: [.apt(["libcairo2-dev"])]),
        // Header-only: the vector square root Swift's stdlib does not lower well.
        .systemLibrary(name: "CVectorMath", path: "Sources/CVectorMath"),
        // Hot loops in C, compiled for AVX2 + FMA and chosen at run time: Winograd's tile
        // transforms and PowerSGD's passes over the gradient.
        .target(name: "CKernels"),
        .target(name: "CSignals"),

        // The Swift MPI wrapper: nothing else imports CMPI.
        .target(name: "SwiftMPI", dependencies: ["CMPI"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Files every module reads and writes: outputs that never replace what they must not,
        // bounded input reads, folders, and the one-line error protocol.
        .target(name: "SetiFiles", swiftSettings: [.swiftLanguageMode(.v6)]),
        // Counter-based random numbers and the names of every random stream.
        .target(name: "SetiRandom", swiftSettings: [.swiftLanguageMode(.v6)]),
        // BLAS-backed layers, the SETI model, optimizers and schedules.
        .target(name: "SetiNet", dependencies: ["CBLAS", "CVectorMath", "CKernels", "SetiRandom", "SetiFiles"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Spectrogram data: file formats (with ML4SETI time series through FFTW), the signal
        // simulator, augmentation, sharding.
        .target(name: "SetiData", dependencies: ["SetiFiles", "SetiRandom", "CFFTW", "CZlib"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Radio observations: filterbank and HDF5 readers (with the bitshuffle/LZ4 filter), the
        // windows `scan` classifies.
        .target(name: "SetiObservations", dependencies: ["SetiFiles", "SetiData", "CHDF5", "CLZ4"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Distributed training: the trainer, gradient exchange, callbacks, checkpoints, metrics.
        .target(name: "SetiTraining", dependencies: ["SwiftMPI", "SetiNet", "CKernels", "SetiFiles", "SetiData", "SetiObservations", "SetiRandom", "Yams"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Keras's .keras format: the model as Keras layers, the weights in HDF5, in a ZIP.
        .target(name: "SetiKeras", dependencies: ["SetiFiles", "SetiNet", "CHDF5", "CZlib"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Pictures drawn with cairo (PNG, SVG, PDF): spectrogram grids with axes, training
        // curves, confusion matrices, sensitivity curves.
        .target(name: "SetiPlot", dependencies: ["SetiFiles", "CCairo"], swiftSettings: [.swiftLanguageMode(.v6)]),

        // The command-line tool: a thin shell over the libraries.
        .executableTarget(
            name: "seti-dist",
            dependencies: [
                "SwiftMPI", "SetiFiles", "SetiNet", "SetiData", "SetiTraining", "SetiPlot", "SetiKeras", "SetiObservations", "CSignals",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["BuildInfo"]),
        // Writes the git commit into the tool for --version.
        .plugin(name: "BuildInfo", capability: .buildTool()),

        // Scaffolding the test targets share (a scratch folder per test).
        .target(name: "SetiTestSupport", path: "Tests/SetiTestSupport"),
        .testTarget(name: "SwiftMPITests", dependencies: ["SwiftMPI"]),
        .testTarget(name: "SetiNetTests", dependencies: ["SetiNet", "SetiRandom", "CKernels"], exclude: ["Fixtures"]),
        .testTarget(name: "SetiFilesTests", dependencies: ["SetiFiles", "SetiTestSupport"]),
        .testTarget(name: "SetiDataTests", dependencies: ["SetiData", "SetiFiles", "CZlib", "SetiTestSupport"]),
        .testTarget(name: "SetiObservationsTests", dependencies: ["SetiObservations", "SetiData", "SetiRandom", "SetiTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SetiTrainingTests", dependencies: ["SetiTraining", "SetiNet", "SetiData", "CKernels", "SetiTestSupport"]),
        .testTarget(name: "SetiPlotTests", dependencies: ["SetiPlot", "SetiData"]),
        .testTarget(name: "SetiKerasTests", dependencies: ["SetiKeras", "SetiNet", "CHDF5"]),
        // Runs the built `seti-dist` under mpirun, so it depends on the executable.
        .testTarget(name: "SetiDistTests", dependencies: ["seti-dist", "SetiNet", "SetiData", "SetiTraining", "SetiObservations", "SetiTestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)

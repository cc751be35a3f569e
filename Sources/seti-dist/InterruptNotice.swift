import CSignals
import Foundation
import SetiTraining

/// What a run that SIGINT or SIGTERM stops says on its way out: where it stopped and
/// which checkpoints are on disk, kept current from the trainer's events (the signal
/// handler can only write a line prepared beforehand). Ranks other than 0 stop silently.
final class InterruptNotice {
    private let folder: RunFolder
    private let saveLast: LastCheckpoint
    private var position = "before its first step"
    private var endedEpoch: Int?
    private var lastEpoch: Int?
    private var bestEpoch: Int?

    init(folder: RunFolder, saveLast: LastCheckpoint, isRoot: Bool) {
        self.folder = folder
        self.saveLast = saveLast
        seti_install_interrupt_handlers()
        if isRoot { publish() }
    }

    func handle(_ event: TrainingEvent) {
        switch event {
        case .started(let summary):
            position = "before its first step (epoch \(summary.firstEpoch + 1) of \(summary.epochs))"
            if summary.firstEpoch > 0 { lastEpoch = summary.firstEpoch }
        case .step(let epoch, let epochs, let step, let steps, _, _, _, _):
            position = "in epoch \(epoch) of \(epochs) (step \(step) of \(steps))"
        case .epochEnded(let record, let epochs):
            position = "after epoch \(record.epoch) of \(epochs)"
            endedEpoch = record.epoch
            if saveLast == .every || (saveLast == .end && record.epoch == epochs) { lastEpoch = record.epoch }
        case .bestSaved:
            bestEpoch = endedEpoch
        default:
            return
        }
        publish()
    }

    private func publish() {
        var saved: [String] = []
        if let lastEpoch { saved.append("\(folder.last.path) (epoch \(lastEpoch); continue with --resume)") }
        if let bestEpoch { saved.append("\(folder.best.path) (epoch \(bestEpoch))") }
        let what = saved.isEmpty ? "no checkpoint yet, so the next run into \(folder.url.path) starts afresh" : "saved: " + saved.joined(separator: " and ")
        seti_set_interrupt_message("seti-dist: stopped \(position); \(what)")
    }
}

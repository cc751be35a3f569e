import Foundation
import SetiData

extension TrainConfig {
    /// The run's training and validation sets: the data folder's, or the simulated ones.
    public func loadData(backgrounds: Backgrounds? = nil) throws -> (train: SpectrogramSet, validation: SpectrogramSet) {
        if let folder = data {
            let url = URL(fileURLWithPath: folder)
            let sets = (try DataFolder.load(.train, from: url), try DataFolder.load(.validation, from: url))
            guard sets.0.classNames == sets.1.classNames else {
                throw DataError("\(folder): the training data have \(sets.0.classNames.count) classes, the validation data \(sets.1.classNames.count)")
            }
            return sets
        }
        let simulator = simulator(seed: seed, backgrounds: backgrounds)
        return (simulator.generate(perClass: simulatedPerClass, split: .train),
                simulator.generate(perClass: max(1, simulatedPerClass / 4), split: .validation))
    }
}

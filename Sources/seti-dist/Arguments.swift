import ArgumentParser
import SetiData
import SetiNet
import SetiObservations
import SetiTraining

// Every choice a flag offers is an enum of the libraries; these conformances let
// ArgumentParser parse them, list them in --help and refuse anything else.
extension Recipe: ExpressibleByArgument {}
extension ModelName: ExpressibleByArgument {}
extension ExchangeMethod: ExpressibleByArgument {}
extension ConvolutionAlgorithm: ExpressibleByArgument {}
extension TrainConfig.OptimizerChoice: ExpressibleByArgument {}
extension TrainConfig.Monitor: ExpressibleByArgument {}
extension TrainConfig.MonitorMode: ExpressibleByArgument {}
extension Augmentation.Fill: ExpressibleByArgument {}
extension DataFolder.Split: ExpressibleByArgument {}
extension DataFolder.Format: ExpressibleByArgument {}
extension DistributionShift: ExpressibleByArgument {}
extension Simulator.Generator: ExpressibleByArgument {}
extension LastCheckpoint: ExpressibleByArgument {}
extension ML4SETISimulator.DataClass: ExpressibleByArgument {}
extension CadenceFilter: ExpressibleByArgument {}

extension LearningRateSchedule.Decay.Kind: ExpressibleByArgument {}

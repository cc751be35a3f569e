import Foundation
import SetiFiles

/// An ON/OFF cadence: observations of a target (ON) alternating with observations of
/// other positions on the sky (OFF), as Breakthrough Listen observes (ABACAD: ON, OFF,
/// ON, OFF, ON, OFF). A signal from the target is in every ON and in no OFF; interference
/// from the ground is in both. The observations must cover the same channels; their
/// lengths may differ.
public struct Cadence: Sendable {
    public enum Role: String, Sendable { case on = "ON", off = "OFF" }

    public struct Member: Sendable {
        public var file: String
        public var role: Role
        public var header: ObservationHeader
        /// Seconds from the first observation's start to this one's.
        public var start: Double
        public var duration: Double { Double(header.timeSteps) * header.timeStep }
    }

    public let members: [Member]

    /// The most observations a cadence may hold.
    public static let maximumMembers = 1_000

    /// The observation files `arguments` name: the files themselves, or a single text file
    /// listing them one a line (blank lines and `#` comments skipped; relative paths are
    /// relative to the list's folder).
    public static func files(_ arguments: [String]) throws -> [String] {
        guard arguments.count == 1, let list = arguments.first, !ObservationFile.isObservation(list) else { return arguments }
        let url = URL(fileURLWithPath: list)
        let text = String(decoding: try readInputFile(url, maximumBytes: 1 << 20, what: "cadence list"), as: UTF8.self)
        var files: [String] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard ObservationFile.isObservation(line) else {
                throw CadenceError("\(list) line \(n + 1): '\(line.prefix(80))' is not an observation file (\(ObservationFile.formats))")
            }
            guard files.count < maximumMembers else { throw CadenceError("\(list): more than \(maximumMembers) observations") }
            files.append(line.hasPrefix("/") ? line : url.deletingLastPathComponent().appendingPathComponent(line).path)
        }
        return files
    }

    /// The cadence of `files` (ON first, then alternating) with their headers, checked:
    /// at least one ON/OFF pair and whole pairs, no file twice, the same frequency axis,
    /// and start times in order.
    public init(files: [String], headers: [ObservationHeader]) throws {
        precondition(files.count == headers.count)
        guard files.count >= 2 else {
            throw CadenceError("\(files.count) observation(s): a cadence needs at least one ON and one OFF observation (ON OFF ON OFF ...)")
        }
        guard files.count % 2 == 0 else {
            throw CadenceError("\(files.count) observations: a cadence alternates ON and OFF, starting with ON, so it holds whole ON/OFF pairs; the last ON (\(files.last!)) has no OFF")
        }
        guard files.count <= Self.maximumMembers else { throw CadenceError("\(files.count) observations: allowed at most \(Self.maximumMembers)") }
        var seen: [String: Int] = [:]
        for (i, file) in files.enumerated() {
            let key = URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath().path
            if let first = seen[key] { throw CadenceError("\(file) is listed twice (observations \(first + 1) and \(i + 1)): an observation cannot be both ON and OFF") }
            seen[key] = i
        }
        let reference = headers[0]
        for (file, header) in zip(files, headers).dropFirst() {
            guard header.channels == reference.channels,
                  abs(header.fileChannelWidth - reference.fileChannelWidth) <= 1e-9 * abs(reference.fileChannelWidth),
                  abs(header.ascendingFirstFrequency - reference.ascendingFirstFrequency) <= 0.01 * abs(reference.fileChannelWidth) else {
                throw CadenceError("\(file): its frequency axis (\(Self.axis(header))) differs from \(files[0])'s (\(Self.axis(reference))); a cadence's observations must cover the same channels")
            }
        }
        // Times: from the headers' start MJDs when every file gives one (they must rise),
        // otherwise each observation follows the one before.
        var starts: [Double] = []
        if headers.allSatisfy({ $0.startMJD > 0 }) {
            for i in headers.indices {
                if i > 0, headers[i].startMJD <= headers[i - 1].startMJD {
                    throw CadenceError(String(format: "%@ starts at MJD %.8f, not after %@ (MJD %.8f): list a cadence's observations in the order they were made", files[i], headers[i].startMJD, files[i - 1], headers[i - 1].startMJD))
                }
                starts.append((headers[i].startMJD - headers[0].startMJD) * 86_400)
            }
        } else if headers.allSatisfy({ $0.startMJD == 0 }) {
            var t = 0.0
            for h in headers { starts.append(t); t += Double(h.timeSteps) * h.timeStep }
        } else {
            let missing = zip(files, headers).first { $0.1.startMJD == 0 }!.0
            throw CadenceError("\(missing) has no start time (tstart) while others do: a cadence's times must all come from the headers, or none")
        }
        members = files.indices.map { Member(file: files[$0], role: $0 % 2 == 0 ? .on : .off, header: headers[$0], start: starts[$0]) }
    }

    private static func axis(_ h: ObservationHeader) -> String {
        String(format: "%d channels of %g MHz from %.6f MHz", h.channels, abs(h.fileChannelWidth), h.ascendingFirstFrequency)
    }

    /// The band's lowest channel frequency and the channel width, in MHz (shared by all).
    public var lowestFrequency: Double { members[0].header.ascendingFirstFrequency }
    public var channelWidth: Double { abs(members[0].header.fileChannelWidth) }
    public var channels: Int { members[0].header.channels }
    public var end: Double { members.map { $0.start + $0.duration }.max()! }

    /// The fractional ascending channel of `frequency` (MHz).
    public func channel(of frequency: Double) -> Double { (frequency - lowestFrequency) / channelWidth }
}

/// A problem with a cadence as a whole (a file's own problems are ``ObservationError``s).
public struct CadenceError: OneLineError {
    public let description: String
    public init(_ message: String) { description = "cadence: \(message)" }
}

/// turboSETI's filter levels for events (its `find_event` `-f`).
public enum CadenceFilter: Int, CaseIterable, Sendable {
    /// Every hit of an ON observation.
    case allHits = 1
    /// Found in at least one ON observation (the hit's own) and in no OFF one.
    case notInOff = 2
    /// Found in every ON observation and in no OFF one.
    case everyOnNoOff = 3
}

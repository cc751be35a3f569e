import Foundation
import SwiftMPI

/// A sum-allreduce of one fixed-size `Float` buffer over all ranks, built for the
/// gradient exchange: within a machine through MPI-3 shared memory, across machines with
/// MPI among one rank per machine and slice.
///
/// Each rank's ``buffer`` lives in a shared-memory window that every rank on the node can
/// read. Reducing a range then takes three steps:
/// 1. reduce-scatter on the node: local rank r sums slice r of the range over every local
///    rank's buffer (reading each once) and writes the sum into its own buffer;
/// 2. across nodes: the ranks with the same local rank, one per node, allreduce slice r
///    with MPI (non-blocking, so it runs while the caller computes);
/// 3. allgather on the node: every rank copies the other slices from their owners.
///
/// Plain `MPI_Allreduce` between processes on one machine moves each byte through
/// several copies (pipelined segments, a reduction buffer); here each rank reads the
/// buffers once and writes once, so the node-local part runs at memory bandwidth.
/// Each element is summed by one rank only and copied to the others, so all ranks get
/// bit-identical results.
///
/// Usage: write into ``buffer`` (a network can compute its gradients there directly), call
/// ``reduce(_:)`` for each range as it becomes final (disjoint ranges, any order), then
/// ``finish()``; or ``allreduce()`` for the whole buffer at once. Every rank must make the
/// same calls with the same ranges.
///
/// Sharded update: with `shareParameters`, the node's ranks hold one copy of the
/// parameters, in shared memory, and step 3 is skipped. ``finishOwned()`` leaves each rank
/// with the sum of its own slices only; the rank updates those slices of ``parameters`` in
/// place (so the node's ranks split the optimizer's work), and ``shareParameters()`` is a
/// barrier after which every rank reads the updated parameters. No gradient or parameter
/// is copied, and the node holds one parameter copy instead of one per rank.
///
/// With `crossNodeBFloat16`, step 2 sends bfloat16 (``BFloat16``): each slice is rounded
/// into a staging buffer, summed by MPI with ``ReductionOp/bfloat16Sum`` (pairs added in
/// fp32), and widened back when the round finishes. Step 1 stays fp32. Half the bytes
/// across machines, for a relative error of at most 2^-8 per value and addition.
public final class HierarchicalAllreduce {
    /// This rank's buffer, in shared memory.
    public let buffer: UnsafeMutableBufferPointer<Float>
    /// The node's parameters, one buffer in shared memory that every local rank reads and
    /// updates its own slices of, with `shareParameters`; else nil.
    public let parameters: UnsafeMutableBufferPointer<Float>?
    /// The ranks on this machine.
    public let node: Communicator
    /// One rank per machine: the ranks whose local rank equals this one's.
    public let peers: Communicator

    private let gradientWindow: SharedMemoryWindow
    private let parameterWindow: SharedMemoryWindow?
    /// The ranges of the current round, and of the last finished one (whose slices define
    /// which rank owns which elements).
    private var reduced: [Range<Int>] = []
    private var lastRound: [Range<Int>] = []
    /// Cross-node allreduces started and not yet waited for; shared with the progress thread.
    private let inFlight = SharedRequests()
    private var progressThread: ProgressThread?
    /// With bfloat16 across machines: the wire copy of ``buffer`` (same offsets), and the
    /// slices of the current round sent through it.
    private let wire: UnsafeMutableBufferPointer<UInt16>?
    private var wireSlices: [Range<Int>] = []

    /// Collective over `world`: allocates `count` floats of shared memory per rank, and
    /// with `shareParameters` `count` more per node. `node` is the group of ranks that reduce through
    /// shared memory: by default the ranks on this machine; a test may pass smaller groups
    /// of one machine's ranks to run the cross-node path without a cluster.
    public init(world: Communicator, count: Int, node: Communicator? = nil, shareParameters: Bool = false,
                crossNodeBFloat16: Bool = false) throws {
        self.node = try node ?? world.splitByNode()
        peers = try world.split(color: self.node.rank, key: world.rank)
        if crossNodeBFloat16 && peers.size > 1 {
            wire = .allocate(capacity: count)
            wire!.initialize(repeating: 0)
        } else {
            wire = nil
        }
        gradientWindow = try SharedMemoryWindow(node: self.node, count: count)
        buffer = gradientWindow.mine
        if shareParameters {
            let segments = try SharedMemoryWindow(node: self.node, count: count, ownerOnly: true)
            parameterWindow = segments
            parameters = segments.mine
        } else {
            parameterWindow = nil
            parameters = nil
        }
        try gradientWindow.barrier()
    }

    deinit {
        guard !MPI.isFinalized else { return }
        _ = progressThread?.stop()
        try? inFlight.waitAll()
        wire?.deallocate()
    }

    /// Sums the whole buffer over all ranks.
    public func allreduce() throws {
        try reduce(0..<buffer.count)
        try finish()
    }

    /// Steps 1 and 2 for `range`, which every local rank has finished writing: returns
    /// once this rank's slice is summed on the node, with its cross-node allreduce started.
    public func reduce(_ range: Range<Int>) throws {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count, "range outside the buffer")
        let mine = slice(range, node.rank)
        if node.size > 1 {
            try gradientWindow.barrier()
            sumSegments(mine)
        }
        reduced.append(range)
        if let wire {
            let from = buffer.baseAddress!, to = wire.baseAddress!
            for i in mine { to[i] = BFloat16.bits(from[i]) }
            wireSlices.append(mine)
            inFlight.append(try peers.startAllreduce(UnsafeMutableBufferPointer(rebasing: wire[mine]), op: .bfloat16Sum))
        } else if peers.size > 1 {
            inFlight.append(try peers.startAllreduce(UnsafeMutableBufferPointer(rebasing: buffer[mine]), op: .sum))
        }
        if peers.size > 1 {
            // OpenMPI moves a non-blocking collective's data only inside MPI calls; while
            // the caller is deep in a GEMM that makes none, a helper thread keeps the
            // network busy. It needs MPI_THREAD_MULTIPLE; without it, progress() does.
            if progressThread == nil && MPI.threadLevel == .multiple {
                let requests = inFlight
                progressThread = ProgressThread { try requests.testAll() }
            }
        }
    }

    /// Lets the cross-node allreduces progress (OpenMPI advances them inside MPI calls).
    public func progress() throws {
        guard progressThread == nil else { return }
        try inFlight.testAll()
    }

    /// Step 3: waits for the cross-node parts, then copies every other rank's slices, so
    /// each rank's buffer holds the full sum. Returns when all local ranks are done reading,
    /// so the buffer may be overwritten at once.
    public func finish() throws {
        try waitForReductions()
        try copyOthersSlices(into: buffer, from: gradientWindow)
    }

    /// Waits for the cross-node parts and returns the slices this rank owns: there, and
    /// only there, ``buffer`` holds the sum. See the sharded update above.
    public func finishOwned() throws -> [Range<Int>] {
        try waitForReductions()
        return ownedSlices
    }

    /// After each rank updated its own slices of ``parameters``: returns when all have, so
    /// the parameters may be read. Also call it after writing the same values into the
    /// parameters on every rank (initialization, loading a checkpoint), before reading.
    public func shareParameters() throws {
        guard let parameterWindow else { preconditionFailure("created without shareParameters") }
        try parameterWindow.barrier()
    }

    /// Completes a buffer of which each rank holds its own slices only (an optimizer's
    /// moments after sharded updates): afterwards every rank holds all of it. Uses
    /// ``buffer`` as the exchange area, so call it between steps.
    public func gatherOwned(_ values: UnsafeMutableBufferPointer<Float>) throws {
        precondition(values.count == buffer.count, "gatherOwned: the buffer must have the exchanged size")
        guard node.size > 1 else { return }
        for part in ownedSlices {
            (buffer.baseAddress! + part.lowerBound).update(from: values.baseAddress! + part.lowerBound, count: part.count)
        }
        try copyOthersSlices(into: values, from: gradientWindow)
    }

    /// This rank's slices of the last round's ranges.
    private var ownedSlices: [Range<Int>] {
        lastRound.map { slice($0, node.rank) }.filter { !$0.isEmpty }
    }

    private func waitForReductions() throws {
        let progressError = progressThread?.stop()
        progressThread = nil
        if let progressError { throw progressError }
        try inFlight.waitAll()
        if let wire {
            let from = wire.baseAddress!, to = buffer.baseAddress!
            for slice in wireSlices { for i in slice { to[i] = BFloat16.value(from[i]) } }
            wireSlices.removeAll()
        }
        lastRound = reduced
        reduced.removeAll()
    }

    /// Copies the slices of the last round that other local ranks own from their segments
    /// into `target`, between two barriers (all have written before; nobody overwrites
    /// before all have read).
    private func copyOthersSlices(into target: UnsafeMutableBufferPointer<Float>, from segments: SharedMemoryWindow) throws {
        guard node.size > 1 else { return }
        try segments.barrier()
        for range in lastRound {
            for owner in 0..<node.size where owner != node.rank {
                let part = slice(range, owner)
                (target.baseAddress! + part.lowerBound).update(from: segments.segments[owner] + part.lowerBound, count: part.count)
            }
        }
        try segments.barrier()
    }

    /// Local rank `r`'s part of `range`; boundaries on 64-byte lines so that no two ranks
    /// write the same cache line.
    private func slice(_ range: Range<Int>, _ r: Int) -> Range<Int> {
        func boundary(_ k: Int) -> Int {
            k == node.size ? range.upperBound : min(range.upperBound, range.lowerBound + range.count * k / node.size / 16 * 16)
        }
        return boundary(r)..<boundary(r + 1)
    }

    /// buffer[part] = ((own + first other) + next other) + ..., others in local-rank
    /// order, summed in place in this rank's segment.
    private func sumSegments(_ part: Range<Int>) {
        let out = buffer.baseAddress! + part.lowerBound
        for (r, segment) in gradientWindow.segments.enumerated() where r != node.rank {
            add(out, out, segment + part.lowerBound, count: part.count)
        }
    }

    /// out = a + b, eight lanes at a time (out may be a or b).
    private func add(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) {
        let o = UnsafeMutableRawPointer(out), x = UnsafeRawPointer(a), y = UnsafeRawPointer(b)
        let lanes = SIMD8<Float>.scalarCount, width = MemoryLayout<SIMD8<Float>>.size
        for v in 0..<(n / lanes) {
            let sum = x.loadUnaligned(fromByteOffset: v * width, as: SIMD8<Float>.self)
                + y.loadUnaligned(fromByteOffset: v * width, as: SIMD8<Float>.self)
            o.storeBytes(of: sum, toByteOffset: v * width, as: SIMD8<Float>.self)
        }
        for i in (n / lanes * lanes)..<n { out[i] = a[i] + b[i] }
    }
}

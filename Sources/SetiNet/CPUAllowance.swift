import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The CPUs this process may run on: its affinity mask (set by mpirun's binding, Slurm's
/// allocation, `taskset`, a cpuset cgroup) and, when smaller, a container's CPU quota
/// (cgroup v2 `cpu.max`). A rank sizes its BLAS pool from this, not from the machine.
public struct CPUAllowance: Equatable, Sendable {
    /// The CPU numbers in the affinity mask, ascending.
    public let cpus: [Int]
    /// CPUs' worth of time the cgroup quota grants, rounded up; nil when unlimited.
    public let quota: Int?

    /// This process's allowance.
    public static var current: CPUAllowance {
        CPUAllowance(cpus: affinity(), quota: cgroupQuota())
    }

    public init(cpus: [Int], quota: Int?) {
        self.cpus = cpus
        self.quota = quota
    }

    /// How many threads the allowance can keep busy.
    public var count: Int { max(1, min(cpus.count, quota ?? .max)) }

    /// A digest of the mask: ranks of a node with equal digests share the same CPUs.
    public var maskDigest: UInt64 {
        cpus.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1 + 1)) &* 0x100_0000_01B3 }
    }

    /// The affinity mask as the kernel reports it in /proc/self/status
    /// ("Cpus_allowed_list: 0-3,8"); every online CPU if that cannot be read.
    private static func affinity() -> [Int] {
        let all = Array(0..<max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
              let cpus = parseList(line.dropFirst("Cpus_allowed_list:".count)) else { return all }
        return cpus
    }

    /// A kernel CPU list ("0-3,8,10-11") as CPU numbers, or nil if malformed.
    static func parseList<S: StringProtocol>(_ text: S) -> [Int]? {
        var cpus: [Int] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            guard let low = bounds.first ?? nil, let high = bounds.last ?? nil, bounds.count <= 2, low >= 0, low <= high, high < 1 << 16 else { return nil }
            cpus += low...high
        }
        return cpus.isEmpty ? nil : Array(Set(cpus)).sorted()
    }

    /// cgroup v2's "QUOTA PERIOD" (or "max PERIOD") of this process's group.
    private static func cgroupQuota() -> Int? {
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        let group = String(line.dropFirst(3))
        guard let text = try? String(contentsOfFile: "/sys/fs/cgroup\(group)/cpu.max", encoding: .utf8) else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let quota = Double(fields[0]), let period = Double(fields[1]), period > 0 else { return nil }
        return max(1, Int((quota / period).rounded(.up)))
    }

    /// `cpus` as a bit mask of `words` 64-bit words (CPU c is bit c % 64 of word c / 64),
    /// so ranks can exchange their masks whatever the CPU numbers (nodes have CPUs past 64).
    public static func bitmask(_ cpus: [Int], words: Int) -> [UInt64] {
        var mask = [UInt64](repeating: 0, count: words)
        for c in cpus where c >= 0 && c / 64 < words { mask[c / 64] |= 1 << UInt64(c % 64) }
        return mask
    }

    /// The CPU numbers of a mask made by ``bitmask(_:words:)``, ascending.
    public static func cpus<C: Collection>(inBitmask mask: C) -> [Int] where C.Element == UInt64 {
        mask.enumerated().flatMap { word, bits in (0..<64).filter { bits & (1 << UInt64($0)) != 0 }.map { word * 64 + $0 } }
    }

    /// CPU numbers as the kernel writes lists: 0,1,2,5 as "0-2,5".
    public static func listText(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count && cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(i == j ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

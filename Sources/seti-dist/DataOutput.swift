import Foundation
import SetiData

/// The commands that write a data folder (simulate, convert) leave one that already holds a
/// data set alone unless `overwrite`: it may be the only copy of real data. With
/// `overwrite`, `write` runs first (every file is replaced whole), then the old set's files
/// it did not rewrite (another format, parameters of other samples) are removed, so no
/// stale half of the old set is read with the new one.
func writeDataFolder(_ out: String, overwrite: Bool, _ write: () throws -> Void) throws {
    let folder = URL(fileURLWithPath: out)
    let held = DataFolder.dataFiles(in: folder)
    guard held.isEmpty || overwrite else {
        throw CommandFailure("\(out) already holds a data set (\(held.joined(separator: ", "))): pass --overwrite to replace it, or choose another --out")
    }
    // A rewritten file is a new file (written aside, then renamed over the old): its inode changes.
    func inode(_ name: String) -> ino_t? {
        var status = stat()
        return stat(folder.appendingPathComponent(name).path, &status) == 0 ? status.st_ino : nil
    }
    let before = held.map { ($0, inode($0)) }
    try write()
    for (name, node) in before where node != nil && inode(name) == node {
        try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
    }
}

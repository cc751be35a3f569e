import Foundation
import XCTest

/// A test case with a scratch folder of its own: `dir`, made empty before each test and
/// removed after it, named `seti-<scratchName>-<UUID>` under the temporary directory so a
/// folder left by a crashed run says which tests made it.
open class ScratchFolderTestCase: XCTestCase {
    public var dir: URL!

    /// The folder name's middle part (override to tell test classes apart).
    open var scratchName: String { "test" }

    override open func setUpWithError() throws {
        try super.setUpWithError()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("seti-\(scratchName)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override open func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
        super.tearDown()
    }
}

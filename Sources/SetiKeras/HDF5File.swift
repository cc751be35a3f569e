import CHDF5
import Foundation

/// The part of HDF5 a Keras weights file needs: nested groups, float32 datasets and string
/// attributes, written through the HDF5 C library (Debian's libhdf5-dev).
final class HDF5File {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let file: hid_t
    private let path: String
    private var groups: [String: hid_t] = [:]

    /// Creates (or truncates) the file at `url`.
    init(creating url: URL) throws {
        path = url.path
        chdf5_silence_errors()
        file = H5Fcreate(url.path, chdf5_truncate(), chdf5_default(), chdf5_default())
        guard file >= 0 else { throw Failure(description: "\(url.path): cannot create the HDF5 file") }
    }

    deinit {
        for group in groups.values { H5Gclose(group) }
        H5Fclose(file)
    }

    /// The group at `path` ("a/b/c"), creating it and its parents as needed.
    func group(_ path: String) throws -> hid_t {
        if let group = groups[path] { return group }
        let parts = path.split(separator: "/")
        let parent = parts.count > 1 ? try group(parts.dropLast().joined(separator: "/")) : file
        let group = H5Gcreate2(parent, String(parts.last!), chdf5_default(), chdf5_default(), chdf5_default())
        guard group >= 0 else { throw Failure(description: "\(self.path): cannot create group \(path)") }
        groups[path] = group
        return group
    }

    /// A float32 dataset `name` in `group` with `shape` and `values` (row-major).
    func writeFloats(_ values: [Float], shape: [Int], name: String, in group: String) throws {
        let parent = try self.group(group)
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), &dims, nil)
        guard space >= 0 else { throw Failure(description: "\(path): cannot describe \(group)/\(name)") }
        defer { H5Sclose(space) }
        let dataset = H5Dcreate2(parent, name, chdf5_ieee_f32le(), space, chdf5_default(), chdf5_default(), chdf5_default())
        guard dataset >= 0 else { throw Failure(description: "\(path): cannot create \(group)/\(name)") }
        defer { H5Dclose(dataset) }
        let status = values.withUnsafeBytes { H5Dwrite(dataset, chdf5_native_float(), 0, 0, chdf5_default(), $0.baseAddress) }
        guard status >= 0 else { throw Failure(description: "\(path): cannot write \(group)/\(name)") }
    }

    /// A fixed-length string attribute on the group at `group`.
    func setAttribute(_ name: String, _ value: String, on group: String) throws {
        let target = try self.group(group)
        let type = H5Tcopy(chdf5_c_string())
        defer { H5Tclose(type) }
        H5Tset_size(type, max(1, value.utf8.count))
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(target, name, type, space, chdf5_default(), chdf5_default())
        guard attribute >= 0 else { throw Failure(description: "\(path): cannot create attribute \(name) on \(group)") }
        defer { H5Aclose(attribute) }
        let status = value.withCString { H5Awrite(attribute, type, $0) }
        guard status >= 0 else { throw Failure(description: "\(path): cannot write attribute \(name) on \(group)") }
    }

    /// Flushes everything to disk.
    func close() throws {
        for group in groups.values { H5Gclose(group) }
        groups.removeAll()
        guard H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else { throw Failure(description: "\(path): cannot write the HDF5 file") }
    }
}

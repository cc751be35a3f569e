import CHDF5
import Foundation
import Synchronization

/// Breakthrough Listen's HDF5 spectrograms (`.h5`, blimpy's "FBH5"): a dataset `data` of
/// [time, IF, channel] values (float32, or unsigned 8/16-bit), with the filterbank header
/// as attributes of the dataset (fch1, foff, tsamp, tstart, nchans, source_name),
/// uncompressed, deflated, or bitshuffle/LZ4-compressed (filter 32008, decoded by
/// ``Bitshuffle``). Only the first IF is read.
public enum BreakthroughListenHDF5 {
    /// HDF5 filter id of bitshuffle.
    static let bitshuffleFilter: H5Z_filter_t = 32008

    /// Registers the bitshuffle codec with HDF5 once per process (thread-safe lazy global).
    private static let registration: Bool = {
        var filter = H5Z_class2_t(
            version: Int32(H5Z_CLASS_T_VERS), id: bitshuffleFilter, encoder_present: 1, decoder_present: 1,
            name: UnsafePointer(strdup("bitshuffle; seti-dist")), can_apply: nil, set_local: nil, filter: bitshuffleCallback)
        return H5Zregister(&filter) >= 0
    }()

    /// What the filter callback checks each decoded chunk against (the bytes of one chunk of
    /// the dataset being read), and the first failure it met, for the error message: HDF5
    /// passes a filter neither.
    fileprivate static let chunkCheck = Mutex<(expectedBytes: Int?, failure: String?)>((nil, nil))

    /// Reads the header of `url`.
    public static func header(_ url: URL) throws -> ObservationHeader {
        try withDataset(url) { _, dataset, dims in try header(of: dataset, dims: dims, file: url.path) }
    }

    /// Reads ascending channels `channels` (all by default) of every time step of IF 0.
    public static func read(_ url: URL, channels: Range<Int>? = nil) throws -> Observation {
        let file = url.path
        return try withDataset(url) { _, dataset, dims in
            let header = try header(of: dataset, dims: dims, file: file)
            let range = try header.readableRange(channels, file: file)
            let fileRange = Observation.fileRange(of: range, header: header)
            let space = H5Dget_space(dataset)
            defer { H5Sclose(space) }
            var start: [hsize_t] = [0, 0, hsize_t(fileRange.lowerBound)]
            var count: [hsize_t] = [hsize_t(header.timeSteps), 1, hsize_t(range.count)]
            // The memory space has the selection's shape: with any other shape HDF5 maps
            // every element to its chunk one at a time.
            let memory = H5Screate_simple(3, &count, nil)
            defer { H5Sclose(memory) }
            var power = [Float](repeating: 0, count: header.timeSteps * range.count)
            chunkCheck.withLock { $0 = (chunkBytes(of: dataset), nil) }
            defer { chunkCheck.withLock { $0 = (nil, nil) } }
            guard H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nil, &count, nil) >= 0,
                  power.withUnsafeMutableBytes({ H5Dread(dataset, chdf5_native_float(), memory, space, chdf5_default(), $0.baseAddress) }) >= 0
            else {
                let filterFailure = chunkCheck.withLock { $0.failure }
                throw ObservationError(file: file, "cannot read the data (\(filterFailure ?? hdf5Message() ?? "corrupt, or compressed with a filter other than deflate and bitshuffle/LZ4"))")
            }
            try Observation.checkFinite(power, fileRange: fileRange, file: file)
            return Observation(file: file, header: header, ascendingRange: range, fileOrderedPower: power)
        }
    }

    /// Writes `power` (timeSteps x channels in `header`'s channel order) as a BL HDF5 file,
    /// bitshuffle/LZ4-compressed in chunks when `compressed`: for tests and conversions.
    public static func write(_ power: [Float], header: ObservationHeader, to url: URL, compressed: Bool) throws {
        precondition(power.count == header.timeSteps * header.channels && registration)
        chdf5_silence_errors()
        let file = H5Fcreate(url.path, chdf5_truncate(), chdf5_default(), chdf5_default())
        guard file >= 0 else { throw ObservationError(file: url.path, "cannot create the HDF5 file") }
        defer { H5Fclose(file) }
        var dims: [hsize_t] = [hsize_t(header.timeSteps), 1, hsize_t(header.channels)]
        let space = H5Screate_simple(3, &dims, nil)
        defer { H5Sclose(space) }
        let properties = H5Pcreate(chdf5_dataset_create())
        defer { H5Pclose(properties) }
        if compressed {
            var chunk: [hsize_t] = [hsize_t(max(1, header.timeSteps / 2)), 1, hsize_t(header.channels)]
            var options: [UInt32] = [0, 0, 4, 0, 2]  // version, version, element size, default block, LZ4
            H5Pset_chunk(properties, 3, &chunk)
            H5Pset_filter(properties, bitshuffleFilter, UInt32(H5Z_FLAG_MANDATORY), 5, &options)
        }
        let dataset = H5Dcreate2(file, "data", chdf5_ieee_f32le(), space, chdf5_default(), properties, chdf5_default())
        guard dataset >= 0 else { throw ObservationError(file: url.path, "cannot create the data set") }
        defer { H5Dclose(dataset) }
        let written = power.withUnsafeBytes { H5Dwrite(dataset, chdf5_native_float(), 0, 0, chdf5_default(), $0.baseAddress) }
        for (name, value) in [("fch1", header.firstFrequency), ("foff", header.fileChannelWidth), ("tsamp", header.timeStep),
                              ("tstart", header.startMJD), ("nchans", Double(header.channels))] {
            let scalar = H5Screate(H5S_SCALAR)
            let attribute = H5Acreate2(dataset, name, chdf5_native_double(), scalar, chdf5_default(), chdf5_default())
            var v = value
            H5Awrite(attribute, chdf5_native_double(), &v)
            H5Aclose(attribute)
            H5Sclose(scalar)
        }
        guard written >= 0, H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else { throw ObservationError(file: url.path, "cannot write the HDF5 file") }
    }

    // MARK: - Helpers

    /// Opens `url` and its `data` dataset, checks its rank and passes its dimensions.
    private static func withDataset<T>(_ url: URL, _ body: (hid_t, hid_t, [Int]) throws -> T) throws -> T {
        let path = url.path
        _ = registration
        chdf5_silence_errors()
        guard FileManager.default.isReadableFile(atPath: path) else { throw ObservationError(file: path, "cannot open the file") }
        guard H5Fis_hdf5(path) > 0 else { throw ObservationError(file: path, "not an HDF5 file") }
        let file = H5Fopen(path, chdf5_read_only(), chdf5_default())
        guard file >= 0 else { throw ObservationError(file: path, "cannot open the HDF5 file (\(hdf5Message() ?? "corrupt"))") }
        defer { H5Fclose(file) }
        let dataset = H5Dopen2(file, "data", chdf5_default())
        guard dataset >= 0 else { throw ObservationError(file: path, "no 'data' dataset (not a Breakthrough Listen HDF5 file)") }
        defer { H5Dclose(dataset) }
        let space = H5Dget_space(dataset)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank == 3 else { throw ObservationError(file: path, "'data' has \(rank) dimensions; expected 3 (time, IF, channel)") }
        var dims = [hsize_t](repeating: 0, count: 3)
        H5Sget_simple_extent_dims(space, &dims, nil)
        return try body(file, dataset, dims.map { Int(clamping: $0) })
    }

    private static func header(of dataset: hid_t, dims: [Int], file: String) throws -> ObservationHeader {
        func number(_ name: String) -> Double? {
            guard H5Aexists(dataset, name) > 0 else { return nil }
            let attribute = H5Aopen(dataset, name, chdf5_default())
            guard attribute >= 0 else { return nil }
            defer { H5Aclose(attribute) }
            let space = H5Aget_space(attribute)
            defer { H5Sclose(space) }
            guard H5Sget_simple_extent_npoints(space) == 1 else { return nil }
            var value = 0.0
            return H5Aread(attribute, chdf5_native_double(), &value) >= 0 ? value : nil
        }
        var header = ObservationHeader()
        header.timeSteps = dims[0]
        header.channels = dims[2]
        guard dims[1] >= 1 else { throw ObservationError(file: file, "'data' has no IF") }
        if let declared = number("nchans"), Int(exactly: declared) != dims[2] {
            throw ObservationError(file: file, "nchans = \(declared) but 'data' holds \(dims[2]) channels")
        }
        header.firstFrequency = number("fch1") ?? .nan
        header.fileChannelWidth = number("foff") ?? .nan
        header.timeStep = number("tsamp") ?? .nan
        header.startMJD = number("tstart") ?? 0
        header.chunkChannels = chunkDimensions(of: dataset)?.last
        return try header.validated(file: file)
    }

    /// The dimensions of one stored chunk of `dataset`, or nil when it is not chunked.
    private static func chunkDimensions(of dataset: hid_t) -> [Int]? {
        let properties = H5Dget_create_plist(dataset)
        guard properties >= 0 else { return nil }
        defer { H5Pclose(properties) }
        var dims = [hsize_t](repeating: 0, count: 8)
        let rank = Int(H5Pget_chunk(properties, 8, &dims))
        guard rank > 0 else { return nil }
        return dims.prefix(rank).map { Int(clamping: $0) }
    }

    /// The bytes of one stored chunk of `dataset` (HDF5 stores edge chunks whole), or nil
    /// when it is not chunked.
    private static func chunkBytes(of dataset: hid_t) -> Int? {
        guard let dims = chunkDimensions(of: dataset) else { return nil }
        let type = H5Dget_type(dataset)
        defer { H5Tclose(type) }
        var bytes = H5Tget_size(type)
        for d in dims {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            bytes = product
        }
        return bytes
    }

    /// The innermost message of HDF5's error stack, if any.
    private static func hdf5Message() -> String? {
        var text = [CChar](repeating: 0, count: 512)
        text.withUnsafeMutableBufferPointer { buffer in
            _ = H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_DOWNWARD, { _, error, data in
                if let description = error?.pointee.desc, let data { strncpy(data.assumingMemoryBound(to: CChar.self), description, 511) }
                return 0
            }, buffer.baseAddress)
        }
        let message = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return message.isEmpty ? nil : message
    }
}

/// HDF5's filter callback for bitshuffle: decodes (H5Z_FLAG_REVERSE) or encodes the chunk
/// in `buffer`, replacing it; 0 tells HDF5 the chunk is bad.
private let bitshuffleCallback: H5Z_func_t = { flags, optionCount, options, bytes, bufferSize, buffer in
    guard let buffer, let input = buffer.pointee, let bufferSize, optionCount >= 3, let options else { return 0 }
    let size = Int(options[2])
    guard size > 0, optionCount < 5 || options[4] == 2 else { return 0 }  // element size; LZ4 only
    if flags & UInt32(H5Z_FLAG_REVERSE) == 0 {
        let result = Bitshuffle.compress([UInt8](UnsafeRawBufferPointer(start: input, count: bytes)), size: size)
        guard let output = malloc(max(1, result.count)) else { return 0 }
        result.withUnsafeBytes { output.copyMemory(from: $0.baseAddress!, byteCount: result.count) }
        return replace(buffer, bufferSize, input, with: output, bytes: result.count)
    }
    let chunk = UnsafeRawBufferPointer(start: input, count: bytes)
    do {
        let layout = try Bitshuffle.Layout(chunk, size: size, expectedBytes: BreakthroughListenHDF5.chunkCheck.withLock { $0.expectedBytes })
        guard let output = malloc(max(1, layout.total)) else { return 0 }
        do {
            try layout.decode(chunk, into: output)
        } catch {
            free(output)
            throw error
        }
        return replace(buffer, bufferSize, input, with: output, bytes: layout.total)
    } catch {
        BreakthroughListenHDF5.chunkCheck.withLock { if $0.failure == nil { $0.failure = "\(error)" } }
        return 0
    }
}

/// Hands HDF5 the filter's `output` in place of its `input` buffer.
private func replace(_ buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ bufferSize: UnsafeMutablePointer<Int>,
                     _ input: UnsafeMutableRawPointer, with output: UnsafeMutableRawPointer, bytes: Int) -> Int {
    free(input)
    buffer.pointee = output
    bufferSize.pointee = bytes
    return bytes
}

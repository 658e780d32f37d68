import BERGCore
@preconcurrency import CHDF5
import Foundation

extension HDF5File {
    /// Writes a 2-D float64 virtual dataset [sources.count, length] whose row r reads the 1-d
    /// float64 dataset `sources[r]` (a path in this same file, [length]); the data is stored
    /// once, in the sources. h5py and libhdf5 ≥ 1.10 read it as an ordinary dataset.
    public func writeVirtualRows(of sources: [String], length: Int, at name: String) throws {
        try HDF5File.locked {
            let file = try prepareLink(name)
            let columns = hsize_t(length)
            let virtualSpace = HDF5File.space(for: [sources.count, length])
            let sourceSpace = HDF5File.space(for: [length])
            defer { H5Sclose(virtualSpace); H5Sclose(sourceSpace) }
            let dcpl = H5Pcreate(H5P_CLS_DATASET_CREATE_ID_g)
            defer { H5Pclose(dcpl) }
            for (row, source) in sources.enumerated() {
                var start: [hsize_t] = [hsize_t(row), 0], count: [hsize_t] = [1, columns]
                guard H5Sselect_hyperslab(virtualSpace, H5S_SELECT_SET, &start, nil, &count, nil) >= 0,
                      H5Pset_virtual(dcpl, virtualSpace, ".", source.hasPrefix("/") ? source : "/" + source, sourceSpace) >= 0 else {
                    throw writeError(name, "mapping row \(row) of virtual dataset")
                }
            }
            let dataset = H5Dcreate2(file, name, H5T_NATIVE_DOUBLE_g, virtualSpace, 0, dcpl, 0)
            guard dataset >= 0 else { throw writeError(name, "creating virtual dataset") }
            H5Dclose(dataset)
        }
    }

    /// Writes strings as a 1-d fixed-length, null-padded byte-string dataset: NumPy's `S`
    /// dtype, what h5py writes for `np.array(strings).astype('S')` (rsatoolbox's descriptors).
    /// The strings must be ASCII for NumPy to decode them; use `writeStrings` otherwise.
    public func writeFixedLengthStrings(_ strings: [String], at name: String) throws {
        try HDF5File.locked {
            let file = try prepareLink(name)
            let width = max(1, strings.map(\.utf8.count).max() ?? 1)
            let type = H5Tcopy(H5T_C_S1_g)
            defer { H5Tclose(type) }
            guard H5Tset_size(type, width) >= 0, H5Tset_strpad(type, H5T_STR_NULLPAD) >= 0 else {
                throw writeError(name, "setting up the string type of")
            }
            let space = HDF5File.space(for: [strings.count])
            defer { H5Sclose(space) }
            var bytes = [UInt8](repeating: 0, count: width * strings.count)
            for (i, s) in strings.enumerated() {
                for (j, byte) in s.utf8.enumerated() { bytes[i * width + j] = byte }
            }
            let dataset = H5Dcreate2(file, name, type, space, 0, 0, 0)
            guard dataset >= 0 else { throw writeError(name, "creating string dataset") }
            defer { H5Dclose(dataset) }
            guard bytes.withUnsafeBytes({ H5Dwrite(dataset, type, 0, 0, 0, $0.baseAddress) }) >= 0 else {
                throw writeError(name, "writing string dataset")
            }
        }
    }
}

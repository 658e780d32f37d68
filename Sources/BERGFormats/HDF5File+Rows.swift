import BERGCore
@preconcurrency import CHDF5
import Foundation

extension HDF5File {
    // MARK: Datasets written a batch of rows at a time

    /// Creates a float32 dataset of `shape` ([rows, ...]) whose rows are written later with
    /// `writeRows`, so that a large array never has to be held whole. Chunked by whole rows;
    /// no compression (network activations hardly compress).
    public func createFloatDataset(_ name: String, shape: [Int]) throws {
        try HDF5File.locked {
            let file = try prepareLink(name)
            let space = HDF5File.space(for: shape)
            defer { H5Sclose(space) }
            let dcpl = H5Pcreate(H5P_CLS_DATASET_CREATE_ID_g)
            defer { H5Pclose(dcpl) }
            if let rows = shape.first, rows > 0, Tensor.count(of: shape) > 0 {
                let chunk = HDF5File.chunkShape(shape, elementSize: 4).map { hsize_t($0) }
                guard H5Pset_chunk(dcpl, Int32(chunk.count), chunk) >= 0 else { throw writeError(name, "setting up chunks for") }
            }
            let dataset = H5Dcreate2(file, name, H5T_NATIVE_FLOAT_g, space, 0, dcpl, 0)
            guard dataset >= 0 else { throw writeError(name, "creating dataset") }
            H5Dclose(dataset)
        }
    }

    /// Writes `tensor` ([k, ...], converted to float32) into rows `start ..< start + k` of a
    /// dataset made by `createFloatDataset`; the trailing dimensions must match.
    public func writeRows(_ tensor: Tensor, at name: String, startingAt start: Int) throws {
        try HDF5File.locked {
            let (dataset, type, space) = try openDataset(name)
            defer { H5Tclose(type); H5Sclose(space); H5Dclose(dataset) }
            let shape = try dims(of: space, name) ?? []
            guard tensor.rank == shape.count, !shape.isEmpty, Array(tensor.shape.dropFirst()) == Array(shape.dropFirst()),
                  start >= 0, start + tensor.shape[0] <= shape[0] else {
                throw BERGError.shapeMismatch(what: "rows \(start)… of dataset '\(name)' in \(path)",
                                              expected: [max(0, (shape.first ?? 0) - start)] + shape.dropFirst(),
                                              actual: tensor.shape)
            }
            guard tensor.shape[0] > 0 else { return }
            var offset = [hsize_t](repeating: 0, count: shape.count)
            offset[0] = hsize_t(start)
            let count = tensor.shape.map { hsize_t($0) }
            guard H5Sselect_hyperslab(space, H5S_SELECT_SET, offset, nil, count, nil) >= 0 else {
                throw writeError(name, "selecting rows of")
            }
            let memory = HDF5File.space(for: tensor.shape)
            defer { H5Sclose(memory) }
            let values = tensor.asFloat32
            let status = HDF5File.withBuffer(of: values) { H5Dwrite(dataset, H5T_NATIVE_FLOAT_g, memory, space, 0, $0) }
            guard status >= 0 else { throw writeError(name, "writing rows of") }
        }
    }
}

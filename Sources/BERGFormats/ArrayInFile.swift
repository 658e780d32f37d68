import BERGCore
import Foundation

/// A NumPy array that a pickle holds, left where it lies in its (mapped) file: its dtype,
/// shape and order, and its raw bytes, a slice of the file that was never copied. Loading
/// with `PickleMachine.load(keepingArraysIn:)` gives these instead of tensors, so that a
/// 0.8 GB pickle of weights costs memory only for the pages a computation touches.
public struct ArrayInFile: Sendable {
    /// NumPy's type string, such as `<f4`.
    public let descr: String
    public let dtype: DType
    public let bigEndian: Bool
    public let shape: [Int]
    /// The bytes are in Fortran order (first index fastest), as NumPy pickles an array that
    /// is Fortran-contiguous only (scikit-learn's `LinearRegression.coef_`, a transpose).
    public let fortranOrder: Bool
    /// Exactly `count × dtype.byteWidth` bytes.
    public let bytes: Data
    /// The mapping the bytes lie in, to give pages back after use.
    public let file: MappedFile?

    public var count: Int { Tensor.count(of: shape) }

    /// A numeric array from a pickled ndarray's state, or nil for dtypes that are not plain
    /// numbers (strings, objects, structured): those are decoded as usual.
    init?(descr: String, shape: [Int], fortranOrder: Bool, bytes: Data, file: MappedFile?, path: String) throws {
        guard let (dtype, bigEndian) = NPYFile.dtype(forDescr: descr) else { return nil }
        let (needed, overflow) = Tensor.count(of: shape).multipliedReportingOverflow(by: dtype.byteWidth)
        guard !overflow, needed == bytes.count else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "array of shape \(shape) and dtype \(descr) needs \(needed) bytes, has \(bytes.count)")
        }
        self.descr = descr
        self.dtype = dtype
        self.bigEndian = bigEndian
        self.shape = shape
        self.fortranOrder = fortranOrder
        self.bytes = bytes
        self.file = file
    }

    /// The array copied into a tensor (C order), for the small arrays a model keeps.
    public func tensor(path: String = "array") throws -> Tensor {
        guard case .tensor(let t)? = try NumpyArrays.decode(raw: bytes, descr: descr, shape: shape, fortran: fortranOrder, path: path) else {
            throw BERGError.unsupported("\(path): dtype \(descr) cannot become a tensor")
        }
        return t
    }

    /// Gives the pages of `range` (a byte range of `bytes`) back to the kernel; see `MappedFile.release`.
    public func release(byteRange range: Range<Int>) {
        guard let file, !range.isEmpty else { return }
        bytes.withUnsafeBytes { raw in file.release(UnsafeRawBufferPointer(rebasing: raw[range])) }
    }
}

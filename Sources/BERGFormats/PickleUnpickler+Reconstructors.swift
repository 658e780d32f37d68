import BERGCore
import Foundation

extension Unpickler {
    // MARK: REDUCE and BUILD: the allowlist

    func reduce(_ callable: Item, _ args: Item) throws -> Item {
        guard case .value(.global(let rawModule, let name)) = callable else {
            return .node(Node(.object(objectParts(callable, args: args))))
        }
        let module = Unpickler.canonicalModule(rawModule)
        let inert = Item.node(Node(.object(ObjectParts(module: rawModule, name: name, args: args))))
        let argItems: [Item]
        if case .node(let n) = args, case .tuple(let a) = n.kind { argItems = a } else { return inert }

        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"):
            let node = Node(.dict([]))
            if let first = argItems.first {
                // OrderedDict([(k, v), ...])
                guard case .node(let listNode) = first, case .list(let pairs) = listNode.kind else { return inert }
                var items: [(Item, Item)] = []
                for pair in pairs {
                    guard case .node(let p) = pair, case .tuple(let kv) = p.kind, kv.count == 2 else { return inert }
                    items.append((kv[0], kv[1]))
                }
                node.kind = .dict(items)
            }
            return .node(node)
        case ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "list"):
            var items: [Item] = []
            if let first = argItems.first {
                guard case .node(let n) = first else { return inert }
                switch n.kind {
                case .list(let a), .tuple(let a), .set(let a, _): items = a
                default: return inert
                }
            }
            return .node(Node(name == "list" ? .list(items) : .set(items, frozen: name == "frozenset")))
        case ("_codecs", "encode"), ("builtins", "bytearray"), ("builtins", "bytes"):
            let plainArgs = try argItems.map(plain)
            if plainArgs.isEmpty { return .value(.bytes(Data())) }
            if case .bytes(let b) = plainArgs[0] { return .value(.bytes(b)) }
            guard case .string(let s) = plainArgs[0] else { return inert }
            let encoding = plainArgs.count > 1 ? (plainArgs[1].string ?? "") : "utf-8"
            switch encoding.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "") {
            case "latin1", "iso88591", "l1":
                var out = Data(capacity: s.unicodeScalars.count)
                for scalar in s.unicodeScalars {
                    guard scalar.value < 256 else { throw corrupt("_codecs.encode: character U+\(String(scalar.value, radix: 16)) is not Latin-1") }
                    out.append(UInt8(scalar.value))
                }
                return .value(.bytes(out))
            case "utf8":
                return .value(.bytes(Data(s.utf8)))
            default:
                return inert
            }
        case ("copyreg", "_reconstructor"):
            // copyreg._reconstructor(cls, base, state): protocol 0/1 instances.
            guard argItems.count >= 1, case .value(.global(let m, let n)) = argItems[0] else { return inert }
            return .node(Node(.object(ObjectParts(module: m, name: n, args: args))))
        case ("numpy.core.multiarray", "_reconstruct"):
            return .node(Node(.pendingArray(ObjectParts(module: rawModule, name: name, args: args))))
        case ("numpy.core.numeric", "_frombuffer"):
            // Protocol 5: _frombuffer(buffer, dtype, shape, order).
            let plainArgs = try argItems.map(plain)
            guard plainArgs.count == 4, case .bytes(let buffer) = plainArgs[0], case .dtype(let descr) = plainArgs[1],
                  let shape = Unpickler.ints(plainArgs[2]) else { return inert }
            guard let value = try NumpyArrays.decode(raw: buffer, descr: descr, shape: shape, fortran: plainArgs[3].string == "F",
                                                     path: path, limit: limits.maxArrayElements) else { return inert }
            return .value(value)
        case ("numpy", "dtype"):
            guard let code = try argItems.first.map(plain)?.string else { return inert }
            return .node(Node(.pendingDType(code: code, parts: ObjectParts(module: rawModule, name: name, args: args))))
        case ("numpy.core.multiarray", "scalar"):
            let plainArgs = try argItems.map(plain)
            guard plainArgs.count == 2, case .dtype(let descr) = plainArgs[0] else { return inert }
            let rawBytes: Data
            switch plainArgs[1] {
            case .bytes(let b): rawBytes = b
            case .string(let s): rawBytes = Data(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
            default:
                if descr.hasSuffix("O") || descr.hasSuffix("O8") { return .value(plainArgs[1]) }
                return inert
            }
            guard let value = try NumpyArrays.decode(raw: rawBytes, descr: descr, shape: [], fortran: false, path: path) else { return inert }
            return .value(value)
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            let plainArgs = try argItems.map(plain)
            guard plainArgs.count >= 4, case .storage(let storage) = plainArgs[0],
                  let offset = plainArgs[1].int, let size = Unpickler.ints(plainArgs[2]), let stride = Unpickler.ints(plainArgs[3]) else {
                return inert
            }
            return .value(.tensor(try TorchTensors.view(of: storage, offset: offset, size: size, stride: stride, path: path, limits: limits)))
        case ("torch._utils", "_rebuild_tensor_v3"):
            // (untyped storage, offset, size, stride, requires_grad, hooks, dtype, metadata):
            // dtypes without a typed storage class (uint16, float8, ...) are saved this way.
            let plainArgs = try argItems.map(plain)
            guard plainArgs.count >= 7, case .storage(var storage) = plainArgs[0],
                  let offset = plainArgs[1].int, let size = Unpickler.ints(plainArgs[2]), let stride = Unpickler.ints(plainArgs[3]),
                  case .global("torch", let dtypeName) = plainArgs[6],
                  let (dtype, unsigned) = TorchTensors.dtype(forV3Name: dtypeName) else {
                return inert
            }
            guard storage.data.count % dtype.byteWidth == 0 else { throw corrupt("storage '\(storage.key)' is not a whole number of \(dtypeName) elements") }
            storage.dtype = dtype
            let t = try TorchTensors.view(of: storage, offset: offset, size: size, stride: stride, path: path, limits: limits)
            return .value(.tensor(unsigned ? try TorchTensors.widenedUnsigned(t) : t))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let first = argItems.first else { return inert }
            let data = try plain(first)
            guard case .tensor = data else { return inert }
            return .value(data)
        case ("torch._tensor", "_rebuild_from_type_v2"), ("torch._tensor", "_rebuild_from_type"):
            // (func, new_type, args, state): apply an allowlisted func to its args.
            guard argItems.count >= 3 else { return inert }
            let inner = try reduce(argItems[0], argItems[2])
            if case .value(.tensor) = inner { return inner }
            return inert
        default:
            return inert
        }
    }

    func build(_ target: Item, state: Item) throws {
        guard case .node(let node) = target else {
            // BUILD on an already-plain value (a tensor): Python would set attributes; nothing to keep.
            return
        }
        switch node.kind {
        case .object(var parts):
            parts.state = state
            if parts.module == "joblib.numpy_pickle", parts.name == "NumpyArrayWrapper",
               let array = try joblibArray(try plain(state)) {
                node.kind = .resolved(array)
            } else {
                node.kind = .object(parts)
            }
        case .pendingArray(var parts):
            parts.state = state
            if let value = try arrayFromState(try plain(state)) {
                node.kind = .resolved(value)
            } else {
                node.kind = .object(ObjectParts(module: "numpy", name: "ndarray", args: parts.args, state: state))
            }
        case .pendingDType(let code, var parts):
            let s = try plain(state)
            parts.state = state
            // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            if case .tuple(let t) = s, t.count >= 5, let order = t[1].string, case .none = t[3], case .none = t[4] {
                let endian = order == "=" ? "<" : order
                node.kind = .resolved(.dtype(endian + code))
            } else {
                node.kind = .object(parts)
            }
        case .dict:
            break // an OrderedDict's attributes (a state_dict's `_metadata`): not needed
        case .list, .tuple, .set, .resolved:
            break
        }
    }

    /// `joblib.dump` replaces each NumPy array by a `NumpyArrayWrapper` whose BUILD is followed,
    /// in the stream itself, by an optional padding (one length byte, then that many bytes)
    /// and the array's raw bytes. Object arrays (a nested pickle) stay inert and stop the read.
    func joblibArray(_ state: PickleValue) throws -> PickleValue? {
        guard case .dtype(let descr)? = state["dtype"], let shape = state["shape"].flatMap(Unpickler.ints),
              let (_, kind, size) = NumpyArrays.parse(descr) else { return nil }
        guard kind != "O" else { throw BERGError.unsupported("\(path): joblib object arrays (nested pickles) are not supported") }
        let count = try NumpyArrays.checkedCount(shape, path: path, limit: limits.maxArrayElements)
        if let alignment = state["numpy_array_alignment_bytes"], alignment.int != nil {
            _ = try take(Int(try byte()))
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: kind == "U" ? size * 4 : size)
        guard !overflow else { throw corrupt("joblib array of shape \(shape) overflows") }
        let raw = slice(try take(bytes))
        return try NumpyArrays.decode(raw: raw, descr: descr, shape: shape, fortran: state["order"]?.string == "F",
                                      path: path, limit: limits.maxArrayElements)
    }

    /// ndarray state: (version, shape, dtype, is_fortran, rawdata) or without the version.
    func arrayFromState(_ state: PickleValue) throws -> PickleValue? {
        guard case .tuple(var t) = state else { return nil }
        if t.count == 5 { t.removeFirst() }
        guard t.count == 4, let shape = Unpickler.ints(t[0]), case .dtype(let descr) = t[1] else { return nil }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw corrupt("ndarray with a negative dimension \(shape)") }
        let fortran = t[2].bool ?? false
        let count = try NumpyArrays.checkedCount(shape, path: path, limit: limits.maxArrayElements)
        switch t[3] {
        case .bytes(let b):
            if let file = arraysIn,
               let inPlace = try ArrayInFile(descr: descr, shape: shape, fortranOrder: fortran, bytes: b, file: file, path: path) {
                return .arrayInFile(inPlace)
            }
            return try NumpyArrays.decode(raw: b, descr: descr, shape: shape, fortran: fortran, path: path)
        case .string(let s):
            // Python 2 pickles carry the raw data as a byte string read as Latin-1.
            var b = Data(capacity: s.unicodeScalars.count)
            for scalar in s.unicodeScalars { b.append(UInt8(truncatingIfNeeded: scalar.value)) }
            return try NumpyArrays.decode(raw: b, descr: descr, shape: shape, fortran: fortran, path: path)
        case .list(let elements):
            guard elements.count == count else {
                throw corrupt("object ndarray of shape \(shape) has \(elements.count) elements")
            }
            return .objectArray(shape: shape, elements: elements)
        default:
            return nil
        }
    }

    static func ints(_ v: PickleValue) -> [Int]? {
        guard let a = v.array else { return nil }
        var out: [Int] = []
        for e in a { guard let i = e.int else { return nil }; out.append(i) }
        return out
    }

    /// Python 2 and NumPy 1.x/2.x spell some modules differently; treat them as one.
    static func canonicalModule(_ module: String) -> String {
        switch module {
        case "__builtin__": return "builtins"
        case "copy_reg": return "copyreg"
        case "numpy._core.multiarray": return "numpy.core.multiarray"
        case "numpy._core.numeric": return "numpy.core.numeric"
        default: return module
        }
    }
}

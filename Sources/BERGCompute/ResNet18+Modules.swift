import BERGCore

extension ResNet18 {
    /// torchvision's `named_modules()` of ResNet-18: conv1, bn1, relu, maxpool, then per stage
    /// `layerL`, its blocks `layerL.i` and their conv1, bn1, relu, conv2, bn2 (and downsample,
    /// downsample.0, downsample.1 where a block has one), then avgpool and fc (when present).
    public var moduleNames: [String] {
        var names = ["conv1", "bn1", "relu", "maxpool"]
        for (i, block) in blocks.enumerated() {
            if i % 2 == 0 { names.append("layer\(i / 2 + 1)") }
            names += [block.name] + ["conv1", "bn1", "relu", "conv2", "bn2"].map { "\(block.name).\($0)" }
            if block.downsample != nil { names += ["downsample", "downsample.0", "downsample.1"].map { "\(block.name).\($0)" } }
        }
        names.append("avgpool")
        if fc != nil { names.append("fc") }
        return names
    }

    /// Module outputs as forward hooks see them: a block's `relu` runs twice and keeps its
    /// second output (the block's output); `bn1` is before the stem's in-place ReLU; `avgpool`
    /// is [N, C, 1, 1]. A block's inner modules need the network built with
    /// `keepingUnfoldedLayers: true`.
    public func forward(_ x: Tensor, modules: [String]) throws -> [String: Tensor] {
        try checkModules(modules, network: "ResNet-18")
        let wanted = Set(modules)
        // Stages: 0 stem, 1 maxpool, 2 + i block i, then avgpool, fc.
        func stage(_ name: String) -> Int {
            switch name {
            case "conv1", "bn1", "relu": return 0
            case "maxpool": return 1
            case "avgpool": return blocks.count + 2
            case "fc": return blocks.count + 3
            default:
                if let i = blocks.firstIndex(where: { name == $0.name || name.hasPrefix($0.name + ".") }) { return i + 2 }
                return Int(name.dropFirst("layer".count))! * 2 - 1 + 2  // `layerL` ends with its second block
            }
        }
        let last = modules.map(stage).max()!
        var result: [String: Tensor] = [:]
        func emit(_ name: String, _ t: Tensor) { if wanted.contains(name) { result[name] = t } }

        var h: Tensor
        if wanted.contains("conv1") || wanted.contains("bn1") {
            let c = try stemConv(x)
            emit("conv1", c)
            let b = try stemBN(c)
            emit("bn1", b)
            h = try Ops.relu(b)
        } else {
            h = try stemFolded(x, relu: true)
        }
        emit("relu", h)
        guard last >= 1 else { return result }
        h = try Ops.maxPool2d(h, kernel: 3, stride: 2, padding: 1)
        emit("maxpool", h)
        for (i, block) in blocks.enumerated() where i + 2 <= last {
            let inner = wanted.contains { $0.hasPrefix(block.name + ".") }
            if inner {
                guard let u = block.unfolded else {
                    throw BERGError.invalidInput("ResNet-18: \(block.name)'s inner modules need the network built with keepingUnfoldedLayers: true")
                }
                let c1 = try u.conv1(h)
                emit("\(block.name).conv1", c1)
                let b1 = try u.bn1(c1)
                emit("\(block.name).bn1", b1)
                let c2 = try u.conv2(Ops.relu(b1))
                emit("\(block.name).conv2", c2)
                let b2 = try u.bn2(c2)
                emit("\(block.name).bn2", b2)
                var identity = h
                if let d = u.downsample {
                    let d0 = try d.conv(h)
                    emit("\(block.name).downsample.0", d0)
                    identity = try d.bn(d0)
                    emit("\(block.name).downsample.1", identity)
                    emit("\(block.name).downsample", identity)
                }
                h = try Ops.relu(Ops.add(b2, identity))
            } else {
                let mid = try block.conv1(h, relu: true)
                let residual = try block.downsample.map { try $0(h) } ?? h
                h = try block.conv2(mid, relu: true, adding: residual)
            }
            emit(block.name, h)
            emit("\(block.name).relu", h)
            if i % 2 == 1 { emit("layer\(i / 2 + 1)", h) }
        }
        guard last >= blocks.count + 2 else { return result }
        h = try Ops.adaptiveAvgPool2d(h, output: 1)
        emit("avgpool", h)
        if let fc, last >= blocks.count + 3 { emit("fc", try fc(Ops.flatten(h))) }
        return result
    }
}

import BERGCompute
import BERGCore
import XCTest

/// Each operation against PyTorch on the fixture cases (1e-5 relative, see `relativeError`).
final class OpsTests: XCTestCase {
    let tolerance: Float = 1e-5

    func forEachCase(_ op: String, _ body: (String, [String: Any]) throws -> Void) throws {
        let all = try Fixtures.cases("ops").filter { ($0.value["op"] as? String) == op }
        XCTAssertFalse(all.isEmpty, "no fixture cases for \(op)")
        for (name, params) in all.sorted(by: { $0.key < $1.key }) { try body(name, params) }
    }

    func a(_ name: String, _ key: String) throws -> Tensor { try Fixtures.array("ops", "\(name).\(key)") }

    /// Runs a test body once with one thread and once with two (batch-parallel paths).
    /// Runs `body` with 1 and 2 threads on every GEMM backend of this build (oneDNN's
    /// convolutions, and OpenBLAS with this engine's im2col and Winograd).
    func withThreadCounts(_ body: () throws -> Void) rethrows {
        let saved = ComputeThreads.count
        defer { ComputeThreads.configure(saved) }
        for backend in GEMMBackend.available {
            try GEMM.withBackend(backend) {
                for n in [1, 2] { ComputeThreads.configure(n); try body() }
            }
        }
    }

    func testConv2d() throws {
        try withThreadCounts {
            try forEachCase("conv2d") { name, p in
                let bias = Fixtures.exists("ops", "\(name).bias") ? try a(name, "bias") : nil
                let conv = try Conv2d(weight: a(name, "weight"), bias: bias, stride: p.size2("stride"),
                                      padding: p.size2("padding"), dilation: p.size2("dilation"))
                assertClose(try conv(a(name, "x")), try a(name, "y"), tolerance: tolerance, name)
            }
        }
    }

    func testConvFoldedBatchNormAndReLU() throws {
        try forEachCase("conv_bn_relu") { name, p in
            var conv = try Conv2d(weight: a(name, "weight"), bias: a(name, "bias"), stride: p.size2("stride"),
                                  padding: p.size2("padding"), dilation: p.size2("dilation"))
            let bn = try BatchNorm2d(weight: a(name, "bn_weight"), bias: a(name, "bn_bias"),
                                     runningMean: a(name, "bn_mean"), runningVar: a(name, "bn_var"), eps: p.float("eps"))
            let x = try a(name, "x"), y = try a(name, "y")
            assertClose(try bn(conv(x), relu: true), y, tolerance: tolerance, "\(name) unfolded")
            try conv.foldBatchNorm(bn)
            assertClose(try conv(x, relu: true), y, tolerance: tolerance, "\(name) folded")
        }
    }

    /// 3×3 stride-1 cases with 32 or more channels take the Winograd F(2×2, 3×3) path; the
    /// BN-folded, residual-adding and ReLU epilogue is applied as its output tiles are formed.
    func testWinogradConvolutions() throws {
        try withThreadCounts {
            var checked = 0
            try forEachCase("conv2d") { name, p in
                guard name.hasPrefix("conv_winograd") else { return }
                let bias = Fixtures.exists("ops", "\(name).bias") ? try a(name, "bias") : nil
                let conv = try Conv2d(weight: a(name, "weight"), bias: bias, padding: p.size2("padding"))
                let x = try a(name, "x")
                XCTAssertTrue(conv.usesWinograd, name)
                assertClose(try conv(x), try a(name, "y"), tolerance: tolerance, name)
                checked += 1
            }
            XCTAssertEqual(checked, 3)
            try forEachCase("conv_bn_add_relu") { name, p in
                var conv = try Conv2d(weight: a(name, "weight"), padding: p.size2("padding"))
                try conv.foldBatchNorm(BatchNorm2d(weight: a(name, "bn_weight"), bias: a(name, "bn_bias"),
                                                   runningMean: a(name, "bn_mean"), runningVar: a(name, "bn_var"), eps: p.float("eps")))
                XCTAssertTrue(conv.usesWinograd, name)
                assertClose(try conv(a(name, "x"), relu: true, adding: a(name, "residual")), try a(name, "y"), tolerance: tolerance, name)
            }
        }
    }

    func testBatchNorm2d() throws {
        try forEachCase("batchnorm2d") { name, p in
            let bn = try BatchNorm2d(weight: a(name, "weight"), bias: a(name, "bias"), runningMean: a(name, "mean"),
                                     runningVar: a(name, "var"), eps: p.float("eps"))
            assertClose(try bn(a(name, "x")), try a(name, "y"), tolerance: tolerance, name)
        }
    }

    func testReLU() throws {
        try forEachCase("relu") { name, _ in assertClose(try Ops.relu(try a(name, "x")), try a(name, "y"), tolerance: 0, name) }
    }

    func testMaxPool2d() throws {
        try withThreadCounts {
            try forEachCase("maxpool2d") { name, p in
                let y = try Ops.maxPool2d(a(name, "x"), kernel: p.size2("kernel"), stride: p.size2("stride"), padding: p.size2("padding"),
                                          dilation: p.size2("dilation"), ceilMode: p.bool("ceil_mode"))
                assertClose(y, try a(name, "y"), tolerance: 0, name)
            }
        }
    }

    func testAvgPool2d() throws {
        try forEachCase("avgpool2d") { name, p in
            let y = try Ops.avgPool2d(a(name, "x"), kernel: p.size2("kernel"), stride: p.size2("stride"), padding: p.size2("padding"),
                                      ceilMode: p.bool("ceil_mode"), countIncludePad: p.bool("count_include_pad"))
            assertClose(y, try a(name, "y"), tolerance: tolerance, name)
        }
    }

    func testAdaptiveAvgPool2d() throws {
        try forEachCase("adaptiveavgpool2d") { name, p in
            assertClose(try Ops.adaptiveAvgPool2d(a(name, "x"), output: p.size2("output")), try a(name, "y"), tolerance: tolerance, name)
        }
    }

    func testConcatAndSlice() throws {
        try forEachCase("concat") { name, p in
            assertClose(try Ops.concat([a(name, "a"), a(name, "b")], axis: p.int("axis")), try a(name, "y"), tolerance: 0, name)
        }
        try forEachCase("slice") { name, p in
            let y = try Ops.slice(a(name, "x"), p.int("start")..<p.int("end"), axis: p.int("axis"))
            assertClose(y, try a(name, "y"), tolerance: 0, name)
        }
        XCTAssertThrowsError(try Ops.slice(try Tensor.zeros([1, 3, 2, 2]), 2..<5))
        XCTAssertThrowsError(try Ops.concat([try Tensor.zeros([1, 3, 2, 2]), try Tensor.zeros([1, 3, 2, 3])]))
    }

    func testElementwise() throws {
        try forEachCase("gelu") { name, _ in assertClose(try Ops.gelu(try a(name, "x")), try a(name, "y"), tolerance: tolerance, name) }
        try forEachCase("signed_log1p_tanh") { name, _ in
            assertClose(try Ops.signedLog1pTanh(try a(name, "x")), try a(name, "y"), tolerance: tolerance, name)
        }
    }

    func testSoftmaxAndReductions() throws {
        try forEachCase("softmax") { name, p in
            assertClose(try Ops.softmax(a(name, "x"), axis: p.int("axis")), try a(name, "y"), tolerance: tolerance, name)
        }
        let kinds: [String: Ops.Reduction] = ["sum": .sum, "mean": .mean, "max": .max, "min": .min]
        try forEachCase("reduce") { name, p in
            let kind = try XCTUnwrap(kinds[p["kind"] as! String])
            assertClose(try Ops.reduce(a(name, "x"), axis: p.int("axis"), kind), try a(name, "y"), tolerance: tolerance, name)
        }
    }

    func testLinearLayerNormAttention() throws {
        try forEachCase("linear") { name, _ in
            let lin = try Linear(weight: a(name, "weight"), bias: a(name, "bias"))
            assertClose(try lin(a(name, "x")), try a(name, "y"), tolerance: tolerance, name)
        }
        try forEachCase("layernorm") { name, p in
            let ln = try LayerNorm(weight: a(name, "weight"), bias: a(name, "bias"), eps: p.float("eps"))
            assertClose(try ln(a(name, "x")), try a(name, "y"), tolerance: tolerance, name)
        }
        try withThreadCounts {
            try forEachCase("mha") { name, p in
                let mha = try MultiheadSelfAttention(inProjWeight: a(name, "in_proj_weight"), inProjBias: a(name, "in_proj_bias"),
                                                     outProjWeight: a(name, "out_proj_weight"), outProjBias: a(name, "out_proj_bias"),
                                                     heads: p.int("heads"))
                assertClose(try mha(a(name, "x")), try a(name, "y"), tolerance: tolerance, name)
            }
        }
    }

    func testBadShapesThrow() {
        XCTAssertThrowsError(try Conv2d(weight: try Tensor.zeros([3, 3, 3])))
        XCTAssertThrowsError(try Conv2d(weight: try Tensor.zeros([4, 3, 3, 3]))(try Tensor.zeros([1, 2, 8, 8])))
        XCTAssertThrowsError(try Conv2d(weight: try Tensor.zeros([4, 3, 5, 5]))(try Tensor.zeros([1, 3, 2, 2])))
        XCTAssertThrowsError(try Ops.maxPool2d(try Tensor.zeros([1, 3, 8]), kernel: 2))
        XCTAssertThrowsError(try Linear(weight: try Tensor.zeros([4, 3]))(try Tensor.zeros([2, 5])))
    }
}

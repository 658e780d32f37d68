@testable import BERGCompute
import BERGCore
import BERGFormats
import Foundation
import XCTest

/// The GEMM backends (OpenBLAS, and oneDNN where this build has it) against each other, and
/// what the thread count may change:
/// - on oneDNN, nothing: every op gives the same bits whatever the thread count (the engine
///   splits GEMMs along the columns of C only and convolves image by image, and oneDNN sums
///   each element's products in the same order however the columns are split);
/// - on OpenBLAS, the last bits: its kernels sum a column's products in an order that depends on
///   the panel it falls in, and the panels and image groups follow the thread count, so
///   results may differ by up to `openBLASThreadTolerance` (relative, as `relativeError` measures it).
/// The two backends agree within `backendTolerance`.
final class BackendTests: XCTestCase {
    /// How far apart two backends' results may be: both are within about 1e-6 of the
    /// references (NetworkTests' worst errors), so 1e-5 leaves room and still catches a wrong layout.
    let backendTolerance: Float = 1e-5
    /// How far OpenBLAS's results may move with the thread count.
    let openBLASThreadTolerance: Float = 1e-6
    let threadCounts = [1, 2, 3, 4]

    override func tearDown() {
        ComputeThreads.configure(nil)
        super.tearDown()
    }

    /// `body()` once per thread count on `backend`; every result must equal the first, bit for
    /// bit on oneDNN, within `openBLASThreadTolerance` on OpenBLAS.
    func assertSameBitsForEveryThreadCount(_ what: String, on backend: GEMMBackend, _ body: () throws -> [Float],
                                           file: StaticString = #filePath, line: UInt = #line) throws {
        var first: [Float]?
        for threads in threadCounts {
            ComputeThreads.configure(threads)
            let result = try GEMM.withBackend(backend) { try body() }
            guard let first else { first = result; continue }
            XCTAssertEqual(result.count, first.count, "\(what), \(backend)", file: file, line: line)
            if backend == .openBLAS {
                let a = try Tensor(shape: [result.count], floats: result), b = try Tensor(shape: [first.count], floats: first)
                assertClose(a, b, tolerance: openBLASThreadTolerance, "\(what) on OpenBLAS, \(threads) threads", file: file, line: line)
            } else {
                let differing = zip(result, first).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(what) on \(backend): \(threads) threads changed \(differing) of \(result.count) values",
                               file: file, line: line)
            }
        }
    }

    func testEveryOpClassRunsOnAnAvailableBackend() {
        XCTAssertEqual(GEMMBackend.available.first, .openBLAS)
        XCTAssertEqual(GEMM.backend(for: .float64), .openBLAS)
        for opClass in GEMMOpClass.allCases where opClass != .float64 {
            let backend = GEMM.backend(for: opClass)
            XCTAssertTrue(backend.isAvailable, "\(opClass)")
            // oneDNN was measured faster on every op class (README, Speed): used wherever present.
            XCTAssertEqual(backend, GEMMBackend.oneDNN.isAvailable ? .oneDNN : .openBLAS, "\(opClass)")
            for chosen in GEMMBackend.available {
                XCTAssertEqual(GEMM.withBackend(chosen) { GEMM.backend(for: opClass) }, chosen)
            }
        }
    }

    /// A backend chosen with `withBackend` holds on the engine's worker threads too.
    func testChosenBackendReachesTheWorkerThreads() {
        ComputeThreads.configure(4)
        for backend in GEMMBackend.available {
            let seen = GEMM.withBackend(backend) {
                let lock = NSLock()
                var seen: [GEMMBackend] = []
                Parallel.run(4) { _ in
                    let b = GEMM.backend(for: .linear)
                    lock.lock(); seen.append(b); lock.unlock()
                }
                return seen
            }
            XCTAssertEqual(seen, [GEMMBackend](repeating: backend, count: 4))
        }
    }

    func testGEMMGivesTheSameBitsForAnyThreadCount() throws {
        // (m, n, k, transposeB): the networks' kinds of shape, small enough for a test.
        let shapes = [(64, 784, 64, false), (192, 1000, 300, false), (300, 3072, 96, true), (4, 1000, 512, true),
                      (1, 700, 256, true), (50, 50, 64, true), (64, 250, 4600, true)]
        var g = RandomStateDict.Generator(seed: 21)
        for (m, n, k, transposeB) in shapes {
            let a = try g.uniform([m * k]).floats, b = try g.uniform([n * k]).floats
            for backend in GEMMBackend.available {
                try assertSameBitsForEveryThreadCount("\(m)×\(n)×\(k)", on: backend) {
                    var c = [Float](repeating: 0, count: m * n)
                    a.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer { cp in
                                GEMM.multiply(.linear, m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!,
                                              ldb: transposeB ? k : n, transposeB: transposeB, c: cp.baseAddress!, ldc: n,
                                              threads: ComputeThreads.count)
                            }
                        }
                    }
                    return c
                }
            }
        }
    }

    /// op(A) = Aᵀ (the fwRF readout's backward pass) on every backend, against a float64 sum,
    /// with beta = 1 accumulating into C.
    func testTransposedAMatchesTheDefinitionOnEveryBackend() throws {
        var g = RandomStateDict.Generator(seed: 22)
        for (m, n, k) in [(96, 169, 40), (3, 70, 5), (200, 700, 64)] {
            let a = try g.uniform([k * m]).floats, b = try g.uniform([k * n]).floats, c0 = try g.uniform([m * n]).floats
            var expected = [Float](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var sum = Double(c0[i * n + j])
                    for p in 0..<k { sum += Double(a[p * m + i]) * Double(b[p * n + j]) }
                    expected[i * n + j] = Float(sum)
                }
            }
            for backend in GEMMBackend.available {
                for threads in [1, 2] {
                    var c = c0
                    a.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer { cp in
                                GEMM.multiply(.fwrfReadout, m: m, n: n, k: k, a: ap.baseAddress!, lda: m, transposeA: true,
                                              b: bp.baseAddress!, ldb: n, beta: 1, c: cp.baseAddress!, ldc: n,
                                              threads: threads, backend: backend)
                            }
                        }
                    }
                    assertClose(try Tensor(shape: [m, n], floats: c), try Tensor(shape: [m, n], floats: expected),
                                tolerance: 1e-5, "Aᵀ·B + C, \(m)×\(n)×\(k), \(backend), \(threads) threads")
                }
            }
        }
    }

    /// Convolutions of every kind the networks have: Winograd-sized 3×3 (with a residual),
    /// strided, 1×1, and large kernels; on 5 images so that worker groups split unevenly.
    func testConvolutionsGiveTheSameBitsForAnyThreadCount() throws {
        var g = RandomStateDict.Generator(seed: 22)
        let layers: [(Int, Int, Int, Int, Int, Int)] = [  // (in, out, kernel, stride, padding, side)
            (64, 64, 3, 1, 1, 20), (32, 48, 3, 2, 1, 17), (48, 64, 1, 2, 0, 16), (3, 16, 11, 4, 2, 47), (16, 40, 5, 1, 2, 13),
        ]
        for (inC, outC, k, stride, padding, side) in layers {
            let conv = try Conv2d(weight: g.weights([outC, inC, k, k]), bias: g.uniform([outC]),
                                  stride: Size2(stride, stride), padding: Size2(padding, padding))
            let x = try g.uniform([5, inC, side, side])
            let o = conv.outputSize(h: side, w: side)
            let residual = try g.uniform([5, outC, o.h, o.w])
            for backend in GEMMBackend.available {
                try assertSameBitsForEveryThreadCount("conv \(inC)→\(outC) \(k)×\(k)/\(stride)", on: backend) {
                    try conv(x, relu: true, adding: residual).floats
                }
            }
        }
    }

    func testLinearAttentionAndReadoutGiveTheSameBitsForAnyThreadCount() throws {
        var g = RandomStateDict.Generator(seed: 23)
        let linear = try Linear(weight: g.weights([384, 96]), bias: g.uniform([384]))
        let tokens = try g.uniform([3, 50, 96])
        let attention = try MultiheadSelfAttention(inProjWeight: g.weights([288, 96]), inProjBias: g.uniform([288]),
                                                   outProjWeight: g.weights([96, 96]), outProjBias: g.uniform([96]), heads: 4)
        let sides = [9, 7, 4]
        let readout = try FWRFReadout(receptiveFields: sides.map { try g.uniform([1300, $0, $0]) },
                                      weights: g.uniform([1300, 48]), bias: g.uniform([1300]), channelCounts: [16, 16, 16])
        let maps = try sides.map { try g.uniform([5, 16, $0, $0]) }
        for backend in GEMMBackend.available {
            try assertSameBitsForEveryThreadCount("linear", on: backend) { try linear(tokens, activation: .gelu).floats }
            try assertSameBitsForEveryThreadCount("attention", on: backend) { try attention(tokens, adding: tokens).floats }
            try assertSameBitsForEveryThreadCount("fwRF readout", on: backend) {
                try readout(maps, threads: ComputeThreads.count).floats
            }
        }
    }

    /// The reduced networks of NetworkTests on every backend: the same bits for any thread
    /// count, and the backends within `backendTolerance` of each other.
    func testNetworksAgreeAcrossBackendsAndThreadCounts() throws {
        for net in ["resnet18", "alexnet", "vit"] {
            let weights = try Fixtures.stateDict(net)
            let model: FeatureNetwork = switch net {
            case "resnet18": try ResNet18(stateDict: weights)
            case "alexnet": try AlexNet(stateDict: weights)
            default: try VisionTransformer(stateDict: weights, heads: 4)
            }
            let x = try NPYFile.read("\(Fixtures.root)/nets/\(net)/input.npy")
            let nodes = try Array(Fixtures.expectedOutputs(net).keys).sorted()
            var outputs: [GEMMBackend: [String: Tensor]] = [:]
            for backend in GEMMBackend.available {
                try assertSameBitsForEveryThreadCount(net, on: backend) {
                    let result = try model.forward(x, outputs: nodes)
                    outputs[backend] = result
                    return nodes.flatMap { result[$0]?.floats ?? [] }
                }
            }
            for backend in GEMMBackend.available.dropFirst() {
                for node in nodes {
                    let theirs = try XCTUnwrap(outputs[.openBLAS]?[node]), ours = try XCTUnwrap(outputs[backend]?[node])
                    assertClose(ours, theirs, tolerance: backendTolerance, "\(net) \(node): \(backend) against OpenBLAS")
                }
            }
        }
    }
}

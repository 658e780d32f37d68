@testable import BERGAnalysis
import BERGCore
import BERGFormats
import Foundation
import XCTest

/// The pieces the fixtures are too small to reach: the block Krylov eigensolver (used above
/// 1,500 rows), the PCA of a subset through it, RidgeCV's float64 re-decision of close calls,
/// and the .npz writer.
final class EigenAndSolverTests: XCTestCase {
    /// A symmetric PSD matrix X·Xᵀ with a decaying spectrum, like a layer's Gram matrix.
    static func gram(rows n: Int, columns p: Int, seed: UInt64) -> (DenseMatrix, PatternMatrix) {
        var generator = Xoshiro256StarStar(seed: seed)
        var x = [Double](repeating: 0, count: n * p)
        for i in 0..<n {
            for j in 0..<p { x[i * p + j] = generator.nextGaussian() / Double(j + 1).squareRoot() + 0.3 }
        }
        let features = PatternMatrix(rows: n, columns: p, doubles: x)
        let matrix = DenseMatrix(rows: n, columns: p, values: x)
        return (DenseMatrix.product(matrix, matrix, transposeB: true), features)
    }

    /// The eigenvectors agree up to sign: |⟨u, v⟩| = 1.
    static func assertSameVectors(_ a: SymmetricEigenpairs, _ b: SymmetricEigenpairs, tolerance: Double, file: StaticString = #filePath, line: UInt = #line) {
        let n = a.vectors.columns
        for k in 0..<a.values.count {
            XCTAssertEqual(a.values[k], b.values[k], accuracy: 1e-10 * b.values[0], "eigenvalue \(k)", file: file, line: line)
            var dot = 0.0
            for i in 0..<n { dot += a.vectors[k, i] * b.vectors[k, i] }
            XCTAssertEqual(abs(dot), 1, accuracy: tolerance, "eigenvector \(k)", file: file, line: line)
        }
    }

    func testBlockKrylovMatchesTheFullDecomposition() throws {
        let (a, _) = Self.gram(rows: 300, columns: 400, seed: 1)
        let direct = try SymmetricEigenpairs(a, largest: 12)
        let iterative = try TopEigenpairs.compute(a, count: 12, directLimit: 10)
        Self.assertSameVectors(iterative, direct, tolerance: 1e-8)
        // From a start block (a perturbed version of the answer), as the folds start.
        var start = DenseMatrix(zeros: 300, 12)
        for i in 0..<300 { for k in 0..<12 { start[i, k] = direct.vectors[k, i] + 0.01 * Double((i * 7 + k) % 5) } }
        Self.assertSameVectors(try TopEigenpairs.compute(a, count: 12, start: start, directLimit: 10), direct, tolerance: 1e-8)
    }

    func testFullDecompositionOrdersLargestFirst() throws {
        let (a, _) = Self.gram(rows: 40, columns: 60, seed: 2)
        let all = try SymmetricEigenpairs(a)
        let top = try SymmetricEigenpairs(a, largest: 40)
        XCTAssertEqual(all.values, all.values.sorted(by: >))
        XCTAssertEqual(all.values.count, 40)
        Self.assertSameVectors(try SymmetricEigenpairs(a, largest: 5), SymmetricEigenpairs(values: Array(all.values.prefix(5)),
            vectors: DenseMatrix(rows: 5, columns: 40, values: Array(all.vectors.values.prefix(200)))), tolerance: 1e-10)
        XCTAssertEqual(top.values.count, 40)
    }

    /// A subset's PCA through the Gram route with the iterative solver equals the direct one.
    func testSubsetPCAThroughTheIterativeSolver() throws {
        let (_, features) = Self.gram(rows: 300, columns: 360, seed: 3)
        let pca = SubsetPCA(features: features, componentCount: 8)
        let train = Array(0..<60) + Array(90..<300)   // 270 rows: above the iteration's 4 blocks of 24, twice
        let direct = try pca.fit(rows: train)
        let iterative = try pca.fit(rows: train, warmStart: pca.fit(rows: Array(0..<300)).pca, directLimit: 10)
        for (a, b) in zip(iterative.pca.components, direct.pca.components) { XCTAssertEqual(a, b, accuracy: 1e-8) }
        for (a, b) in zip(iterative.scores.values, direct.scores.values) { XCTAssertEqual(a, b, accuracy: 1e-7) }
    }

    /// With every choice treated as close, RidgeCV's gram mode decides all voxels in float64;
    /// it must agree with the float32 sweep wherever that one was not close.
    func testRidgeCloseCallsAreDecidedInFloat64() throws {
        let (_, features) = Self.gram(rows: 50, columns: 90, seed: 4)
        var generator = Xoshiro256StarStar(seed: 5)
        let values = (0..<(50 * 7)).map { _ in Float(generator.nextGaussian()) }
        let responses = ResponseRows(rows: 50, columns: 7, values: values)
        let rows = Array(0..<40), test = Array(40..<50)
        let problem = FitProblem(features: .dense(train: features.dense(rows), test: features.dense(test)), responses: responses,
                                 trainRows: rows, testRows: test, wantCoefficients: false)
        let alphas = [0.1, 1, 10, 100, 1000, 1e4, 1e5]
        let sweep = try RidgeLeaveOneOut.fit(problem, alphas: alphas)
        let precise = try RidgeLeaveOneOut.fit(problem, alphas: alphas, closeCall: .infinity)
        XCTAssertEqual(precise.recheckedVoxels, 7)
        XCTAssertEqual(sweep.alphas, precise.alphas)
        for (a, b) in zip(sweep.predictions, precise.predictions) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
    }

    func testNPZWriterRoundTrips() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("berg-npz-\(UUID().uuidString).npz").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a = try Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        let b = try Tensor(shape: [4], doubles: [0.5, -1, 1e300, .pi])
        try NPZFile.write([("coef", a), ("intercept", b)], to: path)
        let read = try NPZFile.read(path)
        XCTAssertEqual(read["coef"], a)
        XCTAssertEqual(read["intercept"], b)
        _ = try ZipArchive(path: path).allContents()  // CRCs and directory are valid
    }
}

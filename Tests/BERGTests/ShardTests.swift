import BERG
import XCTest

/// Shards as `--shard K/N` and `berg plan` make them, and the Slurm lines a plan writes.
final class ShardTests: XCTestCase {
    func testShardsSplitLikeNumpyArraySplitAndCoverEveryImageOnce() throws {
        // numpy.array_split(range(10), 3) → sizes 4, 3, 3.
        XCTAssertEqual(try (1...3).map { try Shard($0, of: 3).range(in: 10) }, [0..<4, 4..<7, 7..<10])
        for total in [1, 5, 7, 64, 1000] {
            for count in 1...min(total, 9) {
                let ranges = try (1...count).map { try Shard($0, of: count).range(in: total) }
                XCTAssertEqual(ranges.first?.lowerBound, 0)
                XCTAssertEqual(ranges.last?.upperBound, total)
                for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
                let sizes = ranges.map(\.count)
                XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "\(total) images in \(count) shards")
            }
        }
    }

    func testShardTextIsKOfN() throws {
        let shard = try Shard(parsing: "2/8")
        XCTAssertEqual(shard.index, 2)
        XCTAssertEqual(shard.count, 8)
        XCTAssertEqual(shard.label, "2-of-8")
        XCTAssertEqual(shard.description, "2/8")
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", ""] {
            XCTAssertThrowsError(try Shard(parsing: bad), bad) { error in
                XCTAssertTrue((error as? BERGError)?.isUsageError ?? false, "\(bad): \(error)")
            }
        }
    }

    func testArraySpecsAreSlurmRanges() {
        XCTAssertEqual(ShardPlan.arraySpec([0, 1, 2, 3]), "0-3")
        XCTAssertEqual(ShardPlan.arraySpec([7, 3, 9, 10, 11, 0]), "0,3,7,9-11")
        XCTAssertEqual(ShardPlan.arraySpec([5]), "5")
    }

    func testSbatchOptionsAreNormalisedAndTheArrayIsThePlans() throws {
        XCTAssertEqual(try ShardPlan.sbatchOption("partition=short"), "--partition=short")
        XCTAssertEqual(try ShardPlan.sbatchOption("--account=lab"), "--account=lab")
        XCTAssertEqual(try ShardPlan.sbatchOption("-p short"), "-p short")
        XCTAssertThrowsError(try ShardPlan.sbatchOption("--array=0-3"))
        XCTAssertThrowsError(try ShardPlan.sbatchOption("--time=1:00\n#SBATCH --x"))
    }

    func testCoveringBatchesHoldTheShardInWholeBatches() {
        let list = StimulusList.array(path: "x.npy", count: 10)
        XCTAssertEqual(list.coveringBatches(of: 4..<7, batchSize: 4), 4..<8)
        XCTAssertEqual(list.coveringBatches(of: 3..<7, batchSize: 4), 0..<8)
        XCTAssertEqual(list.coveringBatches(of: 7..<10, batchSize: 4), 4..<10)
        XCTAssertEqual(list.coveringBatches(of: 0..<10, batchSize: 64), 0..<10)
    }
}

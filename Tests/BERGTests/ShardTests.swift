import BERG
import BERGCore
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

    func testShardsHoldWholeBatchesWhenThereAreEnough() throws {
        // 10 batches of 4 (the last of 2) in 3 shards: 4, 3 and 3 batches.
        XCTAssertEqual(try (1...3).map { try Shard($0, of: 3).range(in: 38, batchSize: 4) }, [0..<16, 16..<28, 28..<38])
        // Fewer batches than shards: image by image.
        XCTAssertEqual(try (1...3).map { try Shard($0, of: 3).range(in: 10, batchSize: 64) }, [0..<4, 4..<7, 7..<10])
        XCTAssertEqual(try Shard(2, of: 3).range(in: 10, batchSize: 1), 4..<7)
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
        XCTAssertEqual(ShardedSource.covering(4..<7, batchSize: 4, count: 10), 4..<8)
        XCTAssertEqual(ShardedSource.covering(3..<7, batchSize: 4, count: 10), 0..<8)
        XCTAssertEqual(ShardedSource.covering(7..<10, batchSize: 4, count: 10), 4..<10)
        XCTAssertEqual(ShardedSource.covering(0..<10, batchSize: 64, count: 10), 0..<10)
    }

    /// A shard source reads the covering batches and keeps its own rows and names.
    func testShardedSourceReadsWholeBatchesAndKeepsItsOwnRows() throws {
        let pixels = (0..<10).flatMap { [UInt8](repeating: UInt8($0), count: 3 * 2 * 2) }
        let whole = StimulusArray(try Stimulus(images: pixels, count: 10, height: 2, width: 2, names: (0..<10).map { "i\($0)" }))
        // 3 batches of 4 for 4 shards: image by image (3, 3, 2, 2), read in the batches around.
        let middle = try ShardedSource(whole, shard: Shard(2, of: 4), batchSize: 4)
        XCTAssertEqual(middle.range, 3..<6)
        XCTAssertEqual(middle.covering, 0..<8)
        XCTAssertEqual(middle.names, (0..<8).map { "i\($0)" })
        let last = try ShardedSource(whole, shard: Shard(4, of: 4), batchSize: 4)
        XCTAssertEqual(last.range, 8..<10)
        XCTAssertEqual(last.covering, 8..<10)
        guard case .images(let first)? = try last.load(0..<2).first else { return XCTFail("no images") }
        XCTAssertEqual(first.names, ["i8", "i9"])
        XCTAssertEqual(first.pixels.first, 8)
        // 3 batches for 3 shards: whole batches, nothing read twice.
        XCTAssertEqual(try ShardedSource(whole, shard: Shard(2, of: 3), batchSize: 4).covering, 4..<8)
        XCTAssertThrowsError(try ShardedSource(whole, shard: Shard(11, of: 11), batchSize: 4))
    }
}

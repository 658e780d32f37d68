import BERGCore
import BERGFormats
import XCTest

final class FileSummaryTests: XCTestCase {
    func testDescribesEachKind() throws {
        let h5 = try FileSummary.describeHDF5(IOFixtures.path("hdf5/h5py_sample.h5"))
        XCTAssertTrue(h5.contains("compressed  float32 [100, 50]"), h5)
        XCTAssertTrue(h5.contains("@model_id = \"fmri-test\""), h5)
        XCTAssertTrue(h5.contains("nested/"), h5)
        XCTAssertTrue(h5.contains("strings  string (variable length) [3]"), h5)

        let nii = try FileSummary.describeNIfTI(IOFixtures.path("nifti/mask_uint8.nii.gz"))
        let argwhere = try NPYFile.read(IOFixtures.path("nifti/mask_uint8.nii.gz.argwhere.npy"))
        XCTAssertTrue(nii.contains("shape [7, 6, 5], uint8"), nii)
        XCTAssertTrue(nii.contains("non-zero voxels: \(argwhere.shape[0]) of 210"), nii)

        let image = try FileSummary.describeImage(IOFixtures.path("images/palette.png"))
        XCTAssertTrue(image.contains("PNG image") && image.contains("23×17"), image)
        assertThrowsBERGError(try FileSummary.describeImage(IOFixtures.path("hdf5/h5py_sample.json")))
    }
}

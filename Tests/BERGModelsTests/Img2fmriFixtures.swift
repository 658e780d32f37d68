import BERGCore
import BERGRegistry
import BERGTestSupport
import Foundation

/// This target's img2fmri fixtures (Tools/reference/make_img2fmri_fixtures.py).
enum Img2fmriFixtures {
    static let fixtures = FixtureFolder(Bundle.module.resourceURL!.appendingPathComponent("Fixtures/img2fmri"))
    static var folder: URL { fixtures.root }
    static func path(_ relative: String) -> String { fixtures.path(relative) }
    static func json(_ relative: String) throws -> [String: Any] { try fixtures.json(relative) }
    static func manifest() throws -> Manifest { try Registry.standard().manifest("img2fmri-bold5000") }
}
